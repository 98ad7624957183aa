using System.Runtime.InteropServices;

namespace Smile.Native;

/// <summary>The glibc entry points Smile uses. Each call is guarded: on a libc without them nothing happens.</summary>
internal static partial class LibC
{
    internal const int M_TRIM_THRESHOLD = -1;
    internal const int M_MMAP_MAX = -4;

    [LibraryImport("libc", EntryPoint = "mallopt")]
    internal static partial int MallOpt(int param, int value);

    // .NET's Environment.SetEnvironmentVariable changes only the managed copy on Unix; native libraries
    // (libgomp reads OMP_* when it loads) see the C environment, which only setenv changes.
    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int SetEnv(string name, string value, int overwrite);

    // .NET has no hard-link API; dataset preparation links images instead of copying them where it can.
    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Link(string existingPath, string newPath);
}

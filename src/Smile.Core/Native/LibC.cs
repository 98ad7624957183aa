using System.Runtime.InteropServices;

namespace Smile.Native;

/// <summary>The glibc entry points Smile uses. Each call is guarded: on a libc without them nothing happens.</summary>
internal static partial class LibC
{
    internal const int M_TRIM_THRESHOLD = -1;
    internal const int M_MMAP_MAX = -4;

    [LibraryImport("libc", EntryPoint = "mallopt")]
    internal static partial int MallOpt(int param, int value);
}

using System.Runtime.InteropServices;

namespace Smile.Native;

/// <summary>Reads LibTorch's oneDNN version (at::get_mkldnn_version), which TorchSharp does not expose.</summary>
internal static class OneDnn
{
    // std::string at::get_mkldnn_version() (libstdc++ new ABI). On x86-64 System V a std::string is
    // returned through a hidden pointer to caller-provided storage (32 bytes: data pointer, length,
    // 16-byte inline buffer or capacity), passed as the first argument.
    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at18get_mkldnn_versionB5cxx11Ev")]
    private static extern IntPtr GetMkldnnVersion(IntPtr result);

    /// <summary>The version string, e.g. "oneDNN v3.7.1 (commit ...)", or null where it cannot be read.</summary>
    public static string? Version()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return null;
        IntPtr storage = Marshal.AllocHGlobal(64);
        try
        {
            GetMkldnnVersion(storage);
            IntPtr data = Marshal.ReadIntPtr(storage);
            long length = Marshal.ReadInt64(storage, 8);
            if (data == IntPtr.Zero || length is <= 0 or > 4096) return null;
            // A string longer than 15 bytes lives on the heap; those few bytes are left, once per process.
            return Marshal.PtrToStringUTF8(data, (int)length);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
        finally
        {
            Marshal.FreeHGlobal(storage);
        }
    }
}

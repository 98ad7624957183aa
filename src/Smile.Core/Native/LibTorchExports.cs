using System.Runtime.InteropServices;

namespace Smile.Native;

/// <summary>The probe behind the C++ entry points Smile binds by their exported names (Autocast, CudaSwitches):
/// whether the LibTorch that TorchSharp loaded exports every one of them.</summary>
internal static class LibTorchExports
{
    /// <summary>Null when <paramref name="library"/> opens and exports every name; else why not (the library that did
    /// not open, or the first missing name).</summary>
    public static string? FirstMissing(string library, IEnumerable<string> names)
    {
        TorchSharp.torch.InitializeDeviceType(TorchSharp.DeviceType.CPU); // LibTorch loaded the way TorchSharp loads it
        if (!NativeLibrary.TryLoad(library, typeof(LibTorchExports).Assembly, null, out var handle)
            && !NativeLibrary.TryLoad(library + ".so", out handle))
            return $"{library} could not be opened";
        foreach (var name in names)
            if (!NativeLibrary.TryGetExport(handle, name, out _)) return $"{name} is not exported";
        return null;
    }
}

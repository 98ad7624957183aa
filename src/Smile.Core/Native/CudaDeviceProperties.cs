using System.Runtime.InteropServices;
using System.Text;

namespace Smile.Native;

/// <summary>One CUDA device as `smile info` shows it; Name and TotalMemory are null where they could not be read.</summary>
public sealed record CudaDevice(int Index, string? Name, long? TotalMemory);

/// <summary>
/// Names and memory of the CUDA devices. TorchSharp 0.107 gives only their count, so they are read through LibTorch's
/// own <c>at::cuda::getDeviceProperties</c>, looked up in the libtorch_cuda.so that this process loaded. Probed like
/// the other entry points of this folder: a missing export means "unknown", never an error.
/// </summary>
internal static unsafe class CudaDeviceProperties
{
    // cudaDeviceProp* at::cuda::getDeviceProperties(c10::DeviceIndex). The parameter type is in the mangled name and
    // has changed over LibTorch versions (int8 now, int16 and int64 before): each spelling with its width in bytes.
    private static readonly (string Export, int Width)[] Exports =
    {
        ("_ZN2at4cuda19getDevicePropertiesEa", 1),
        ("_ZN2at4cuda19getDevicePropertiesEs", 2),
        ("_ZN2at4cuda19getDevicePropertiesEl", 8),
    };

    // The CUDA runtime's cudaDeviceProp begins with char name[256], a 16-byte UUID, char luid[8], an unsigned
    // luidDeviceNodeMask and, aligned to 8, size_t totalGlobalMem: the name at 0 and the memory at 288.
    internal const int NameBytes = 256;
    internal const int TotalMemoryOffset = 288;
    private const long MaxPlausibleMemory = 1L << 50; // 1 PiB: anything larger means the layout was not what we think

    /// <summary>Devices 0 to <paramref name="count"/>-1, read through <paramref name="libtorchCuda"/> (a loaded
    /// libtorch_cuda.so), or null where that library exports no getDeviceProperties we know.</summary>
    public static IReadOnlyList<CudaDevice>? Read(string libtorchCuda, int count)
    {
        if (!NativeLibrary.TryLoad(libtorchCuda, out var handle)) return null;
        foreach (var (export, width) in Exports)
        {
            if (!NativeLibrary.TryGetExport(handle, export, out var function)) continue;
            var devices = new List<CudaDevice>(count);
            for (int i = 0; i < count; i++)
            {
                IntPtr properties = width switch
                {
                    1 => ((delegate* unmanaged<sbyte, IntPtr>)function)((sbyte)i),
                    2 => ((delegate* unmanaged<short, IntPtr>)function)((short)i),
                    _ => ((delegate* unmanaged<long, IntPtr>)function)(i),
                };
                devices.Add(FromProperties(i, properties));
            }
            return devices;
        }
        return null;
    }

    /// <summary>Name and total memory out of a cudaDeviceProp, each null unless it looks like one (printable ASCII,
    /// a size between 1 byte and 1 PiB): a layout other than the expected one shows as "unknown", not as garbage.</summary>
    internal static CudaDevice FromProperties(int index, IntPtr properties)
    {
        if (properties == IntPtr.Zero) return new CudaDevice(index, null, null);
        var bytes = new ReadOnlySpan<byte>((void*)properties, NameBytes);
        int end = bytes.IndexOf((byte)0);
        string? name = null;
        if (end > 0 && !bytes[..end].ContainsAnyExceptInRange((byte)0x20, (byte)0x7e))
            name = Encoding.ASCII.GetString(bytes[..end]);
        long memory = Marshal.ReadInt64(properties, TotalMemoryOffset);
        return new CudaDevice(index, name, memory is > 0 and < MaxPlausibleMemory ? memory : null);
    }
}

using System.Runtime.InteropServices;
using System.Text;
using Smile.Native;

namespace Smile.Tests.Diagnostics;

/// <summary>Reading a device's name and memory out of a cudaDeviceProp (no GPU here: a buffer laid out like one).</summary>
public sealed class CudaDevicePropertiesTests
{
    private static CudaDevice Read(byte[] name, long memory)
    {
        IntPtr block = Marshal.AllocHGlobal(1024);
        try
        {
            for (int i = 0; i < 1024; i++) Marshal.WriteByte(block, i, 0);
            Marshal.Copy(name, 0, block, name.Length);
            Marshal.WriteInt64(block, CudaDeviceProperties.TotalMemoryOffset, memory);
            return CudaDeviceProperties.FromProperties(3, block);
        }
        finally { Marshal.FreeHGlobal(block); }
    }

    [Fact]
    public void NameAndMemoryComeFromTheirOffsets()
    {
        Assert.Equal(new CudaDevice(3, "NVIDIA H200", 150_000_000_000L), Read(Encoding.ASCII.GetBytes("NVIDIA H200\0"), 150_000_000_000L));
    }

    [Fact]
    public void ValuesThatCannotBeANameOrAMemorySizeReadAsUnknown()
    {
        Assert.Equal(new CudaDevice(3, null, null), Read(new byte[] { 0x9c, 0x01, 0xff, 0 }, -5)); // not printable ASCII; negative
        Assert.Equal(new CudaDevice(3, null, null), Read(new byte[] { 0 }, 1L << 52));              // empty name; over 1 PiB
        Assert.Equal(new CudaDevice(0, null, null), CudaDeviceProperties.FromProperties(0, IntPtr.Zero));
    }
}

using System.Reflection;
using Smile.Models;
using Smile.Native;
using TorchSharp;

namespace Smile.Diagnostics;

/// <summary>Everything `smile info` reports: versions, devices, threads, native libraries and safeguards.</summary>
public sealed record SystemInfo(
    string SmileVersion,
    string TorchSharpVersion,
    string LibTorchVersion,
    LibTorchLocation? LibTorch,
    string? OneDnnVersion,
    bool CudaAvailable,
    int CudaDeviceCount,
    bool CudnnAvailable,
    IReadOnlyList<CudaDevice>? CudaDevices,
    int Threads,
    int InteropThreads,
    IReadOnlyList<string> NativeLibraries,
    CpuInfo Cpu,
    string AllocatorPolicy,
    string Nnpack,
    string OneDnnCaches,
    string OneDnnFusion,
    IReadOnlyList<string> Safeguards)
{
    public static SystemInfo Collect()
    {
        var cpu = CpuInfo.Read();
        int threads = torch.get_num_threads(); // initialises LibTorch first
        bool cuda = SafeCuda(torch.cuda.is_available);
        int devices = cuda ? torch.cuda.device_count() : 0;
        var loaded = LoadedNativeLibraries(); // after the CUDA probe: libtorch_cuda.so is loaded by then where there is one
        return new SystemInfo(
            VersionOf(typeof(SystemInfo).Assembly),
            VersionOf(typeof(torch).Assembly),
            torch.__version__,
            LibTorchLocation.From(loaded),
            OneDnn.Version(),
            cuda,
            devices,
            cuda && SafeCuda(torch.cuda.is_cudnn_available),
            DescribeDevices(loaded, devices),
            threads,
            torch.get_num_interop_threads(),
            loaded,
            cpu,
            Native.AllocatorPolicy.State,
            Native.Nnpack.Disable(), // as every model build does: info shows the state training runs in
            Native.OneDnnCacheSizes.Apply(), // the same
            FusionState(),
            ActiveSafeguards(cpu));
    }

    // After OneDnnCacheSizes.Apply: whether oneDNN sees cache sizes decides it too (FoldedResNet.FusesOnThisMachine).
    private static string FusionState() =>
        !OneDnnFusedConvolution.Available ? $"off ({OneDnnFusedConvolution.Unavailable}): separate ReLUs and residual sums"
        : FoldedResNet.FusesOnThisMachine ? "ReLUs and residual sums inside oneDNN's convolutions in channels-last CPU eval and teacher forwards (fp32, bf16)"
        : "off (oneDNN cannot see this CPU's cache sizes): separate ReLUs and residual sums";

    private static IReadOnlyList<string> ActiveSafeguards(CpuInfo cpu) => new[]
    {
        $"strided 1x1 convolutions on CPU computed as slice + stride-1 convolution: {(PointwiseConv2d.SlicesStride(torch.CPU) ? "on" : "off")}" +
            (cpu.CachesHidden ? " (needed here: this CPU hides its cache sizes)" : ""),
        PointwiseConv2d.OneDnnSeesCaches
            ? "channels-last 1x1 convolutions on CPU computed by oneDNN (it has cache sizes to work with; under bf16/fp16 autocast maps under 14x14 as matrix products)"
            : "channels-last 1x1 convolutions on CPU computed as matrix products: on (needed here: oneDNN cannot see this CPU's cache sizes)",
    };

    /// <summary>Names and memory of the CUDA devices (empty without any), or null where they cannot be read.</summary>
    private static IReadOnlyList<CudaDevice>? DescribeDevices(IReadOnlyList<string> loaded, int count)
    {
        if (count == 0) return Array.Empty<CudaDevice>();
        string? libtorchCuda = loaded.FirstOrDefault(p => Path.GetFileName(p) == "libtorch_cuda.so");
        return libtorchCuda is null ? null : CudaDeviceProperties.Read(libtorchCuda, count);
    }

    private static bool SafeCuda(Func<bool> probe)
    {
        try { return probe(); }
        catch (Exception) { return false; } // a missing or broken CUDA install reads as "not available"
    }

    private static string VersionOf(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>The LibTorch and TorchSharp libraries mapped into this process, by path.</summary>
    private static IReadOnlyList<string> LoadedNativeLibraries()
    {
        try
        {
            return File.ReadLines("/proc/self/maps")
                .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(p => p.Length >= 6)
                .Select(p => string.Join(' ', p.Skip(5)))
                .Where(p => Path.GetFileName(p) is var f && (f.StartsWith("libtorch", StringComparison.Ordinal)
                    || f.StartsWith("libLibTorchSharp", StringComparison.Ordinal) || f.StartsWith("libc10", StringComparison.Ordinal)))
                .Distinct()
                .ToArray();
        }
        catch (IOException) { return Array.Empty<string>(); }
    }
}

using System.CommandLine;
using System.Globalization;
using Smile.Diagnostics;
using Smile.Native;

namespace Smile.Cli.Commands;

/// <summary>`smile info`: the first thing to run when something is wrong.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var command = new Command("info", "Print versions, devices, threads, native libraries and CPU safeguards.");
        command.SetAction(_ =>
        {
            var info = SystemInfo.Collect();
            Console.WriteLine($"Smile          {info.SmileVersion}");
            Console.WriteLine($"TorchSharp     {info.TorchSharpVersion}");
            Console.WriteLine($"LibTorch       {info.LibTorchVersion}");
            Console.WriteLine($"LibTorch path  {LibTorchPath(info.LibTorch)}");
            Console.WriteLine($"oneDNN         {info.OneDnnVersion ?? "unknown"}");
            Console.WriteLine($"CUDA           {(info.CudaAvailable ? $"available, {info.CudaDeviceCount} device(s), cuDNN {(info.CudnnAvailable ? "available" : "not available")}" : "not available")}");
            foreach (var device in DeviceLines(info))
                Console.WriteLine(device);
            Console.WriteLine($"threads        {info.Threads} intra-op, {info.InteropThreads} inter-op");
            Console.WriteLine($"CPU            {info.Cpu.Model}");
            Console.WriteLine($"CPU ISA        {(info.Cpu.Isa.Count == 0 ? "none of avx/avx2/avx512/amx" : string.Join(' ', info.Cpu.Isa))}");
            Console.WriteLine($"CPU caches     {(info.Cpu.CachesHidden ? "hidden by the (virtual) machine" : string.Join(", ", info.Cpu.Caches))}");
            Console.WriteLine($"allocator      {info.AllocatorPolicy}");
            Console.WriteLine($"OpenMP         {Smile.Native.ThreadPolicy.State}");
            Console.WriteLine($"NNPACK         {info.Nnpack}");
            Console.WriteLine($"oneDNN caches  {info.OneDnnCaches}");
            Console.WriteLine($"oneDNN fusion  {info.OneDnnFusion}");
            Console.WriteLine($"autocast       {(Autocast.Available ? "available (--precision bf16, fp16)" : $"not available ({Autocast.Unavailable}): fp32 only")}");
            Console.WriteLine($"CPU bf16/fp16  {LowPrecisionLine(info.Cpu)}");
            Console.WriteLine($"CUDA switches  {CudaSwitchesLine(info.CudaAvailable)}");
            Console.WriteLine($"CUDA graphs    {(CudaGraph.Available ? "available: finetune and distill replay their step on CUDA (--no_cuda_graphs)" : $"not available ({CudaGraph.Unavailable}): steps run eagerly")}");
            foreach (var safeguard in info.Safeguards)
                Console.WriteLine($"safeguard      {safeguard}");
            if (info.NativeLibraries.Count == 0)
                Console.WriteLine("native         (could not read /proc/self/maps)");
            foreach (var lib in info.NativeLibraries)
                Console.WriteLine($"native         {lib}");
            return 0;
        });
        return command;
    }

    /// <summary>How bf16 and fp16 convolutions run on this CPU (Models/LowPrecisionConvolution.cs).</summary>
    private static string LowPrecisionLine(Smile.Diagnostics.CpuInfo cpu)
    {
        var cpuDevice = new TorchSharp.torch.Device(TorchSharp.DeviceType.CPU);
        string Route(string name)
        {
            if (!Autocast.Available) return $"{name} n/a";
            var precision = Smile.Training.MixedPrecision.Create(name, out _);
            return precision.OneDnnHasKernels(cpu) ? $"{name} oneDNN kernels"
                : precision.RoundsConvolutions(cpuDevice, cpu) ? $"{name} as rounded fp32 convolutions (no {name} kernels; no faster than fp32)"
                : $"{name} LibTorch's generic kernels (SMILE_LOW_PRECISION_CONV=native; far slower than fp32)";
        }
        return $"{Route("bf16")}; {Route("fp16")}";
    }

    /// <summary>What finetune and distill do with cuDNN autotuning, TF32 and channels-last here (Training/CudaSpeed.cs).</summary>
    private static string CudaSwitchesLine(bool cuda) =>
        !CudaSwitches.Available ? $"not available ({CudaSwitches.Unavailable}): cuDNN autotuning and TF32 left as LibTorch sets them"
        : cuda ? "cuDNN autotuning, TF32 and channels-last batches on by default on CUDA (--no_cudnn_benchmark, --no_tf32, --channels_last off)"
        : $"cuDNN autotuning and TF32: no-ops on the CPU; {CpuChannelsLastLine()}";

    /// <summary>Where `--channels_last auto` puts a run's batches channels-last on this CPU (CudaSpeed.ForRun).</summary>
    private static string CpuChannelsLastLine()
    {
        var chosen = Smile.Training.MixedPrecision.Names
            .Where(name => Smile.Training.CudaSpeed.CpuPrefersChannelsLast(Smile.Training.MixedPrecision.Create(name, out _))) // false for fp32, and where autocast is missing (Create gives fp32)
            .ToList();
        return chosen.Count == 0 ? "channels-last off on the CPU unless --channels_last on"
            : $"channels-last on the CPU by default for ResNets under {string.Join(" and ", chosen)} autocast (oneDNN's kernels for it), otherwise off unless --channels_last on";
    }

    private static string LibTorchPath(LibTorchLocation? location) =>
        location is null ? "unknown (no libtorch_cpu.so or libtorch.so in /proc/self/maps)"
        : location.RecordedVersion is null ? location.Folder
        : $"{location.Folder} (PyTorch {location.RecordedVersion})";

    private static IEnumerable<string> DeviceLines(SystemInfo info)
    {
        if (info.CudaDeviceCount == 0) yield break;
        if (info.CudaDevices is null)
        {
            yield return "CUDA devices   names and memory unknown (the loaded libtorch_cuda.so exports no at::cuda::getDeviceProperties known to Smile)";
            yield break;
        }
        foreach (var d in info.CudaDevices)
            yield return $"CUDA device {d.Index,-2} {d.Name ?? "name unknown"}, " +
                (d.TotalMemory is long bytes ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.0} GiB") : "memory unknown");
    }
}

using System.CommandLine;
using Smile.Diagnostics;

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
            Console.WriteLine($"oneDNN         {info.OneDnnVersion ?? "unknown"}");
            Console.WriteLine($"CUDA           {(info.CudaAvailable ? $"available, {info.CudaDeviceCount} device(s), cuDNN {(info.CudnnAvailable ? "available" : "not available")}" : "not available")}");
            Console.WriteLine($"threads        {info.Threads} intra-op, {info.InteropThreads} inter-op");
            Console.WriteLine($"CPU            {info.Cpu.Model}");
            Console.WriteLine($"CPU ISA        {(info.Cpu.Isa.Count == 0 ? "none of avx/avx2/avx512/amx" : string.Join(' ', info.Cpu.Isa))}");
            Console.WriteLine($"CPU caches     {(info.Cpu.CachesHidden ? "hidden by the (virtual) machine" : string.Join(", ", info.Cpu.Caches))}");
            Console.WriteLine($"allocator      {info.AllocatorPolicy}");
            Console.WriteLine($"OpenMP         {Smile.Native.ThreadPolicy.State}");
            Console.WriteLine($"NNPACK         {info.Nnpack}");
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
}

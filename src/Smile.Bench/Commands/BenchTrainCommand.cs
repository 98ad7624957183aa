using System.CommandLine;
using System.Text.Json;
using Smile.Cli;

namespace Smile.Bench.Commands;

/// <summary>`smile bench train`: training-step throughput of Smile against Debian's PyTorch 1.13
/// (src/Smile.Bench/bench/torch_step.py), rounds interleaved in the same run.</summary>
internal static class BenchTrainCommand
{
    public static Command Create()
    {
        var arch = Flags.Make("model_arch", "Architecture.", "resnet50");
        var size = Flags.Make("image_size", "Input size.", 224);
        var batch = Flags.Make("batch_size", "Batch size.", 16);
        var steps = Flags.Make("steps", "Timed steps per measurement (SMILE: steps/4 samples of 10 iterations).", 4);
        var rounds = Flags.Make("rounds", "Interleaved Smile / PyTorch rounds.", 2);
        var channelsLast = Flags.Make("channels_last", "Also time PyTorch in channels-last (yes or no).", "yes");
        var smileChannelsLast = Flags.Make("smile_channels_last", "On the CPU, also time Smile in channels-last (`finetune --channels_last on`): yes or no (auto: yes).", "auto");
        var rates = Flags.Make("arithmetic", "On the CPU, also measure LibTorch's matmul and convolution rates (about 6 s on 2 cores) and print each step's share of them (yes or no).", "yes");
        var fold = Flags.Make("fold_batchnorm", "Run Smile's teacher and eval forward with BatchNorm folded into the convolutions, as training and evaluation do (yes or no).", "yes");
        var precision = Flags.Make("precision", "fp32, or bf16: both sides under CPU autocast (Smile: --precision bf16's step; PyTorch: torch.autocast).", "fp32");
        var device = Flags.Make("device", "cpu, cuda, cuda:N or auto: both sides run there (PyTorch: the one of $SMILE_PYTHON, else of /usr/bin/python3).", "cpu");
        var command = new Command("train", "Training-step throughput, Smile against Debian's PyTorch 1.13 (tuned allocator, NCHW and channels-last).") { arch, size, batch, steps, rounds, channelsLast, smileChannelsLast, rates, fold, precision, device };
        command.SetAction(parse =>
        {
            string a = Smile.Models.ModelFactory.CanonicalName(parse.GetValue(arch)!);
            int s = parse.GetValue(size), b = parse.GetValue(batch), n = parse.GetValue(steps), r = parse.GetValue(rounds);
            Flags.ImageSize(s);
            Flags.Require(b >= 2, "batch_size", "must be at least 2");
            Flags.Require(n >= 1, "steps", "must be at least 1");
            Flags.Require(r >= 1, "rounds", "must be at least 1");
            Flags.Require(parse.GetValue(channelsLast) is "yes" or "no", "channels_last", "must be yes or no");
            bool withChannelsLast = parse.GetValue(channelsLast) == "yes";
            string smileLayout = parse.GetValue(smileChannelsLast)!.Trim().ToLowerInvariant();
            Flags.Require(smileLayout is "auto" or "yes" or "no", "smile_channels_last", $"must be auto, yes or no, not '{smileLayout}'");
            Flags.Require(parse.GetValue(fold) is "yes" or "no", "fold_batchnorm", "must be yes or no");
            Flags.Require(parse.GetValue(rates) is "yes" or "no", "arithmetic", "must be yes or no");
            bool folded = parse.GetValue(fold) == "yes";
            string amp = parse.GetValue(precision)!.Trim().ToLowerInvariant();
            Flags.Require(amp is "fp32" or "bf16", "precision", $"must be fp32 or bf16, not '{amp}'");
            var target = Smile.Training.DeviceSelection.Parse(parse.GetValue(device)!);
            string targetName = target.type == TorchSharp.DeviceType.CUDA ? $"cuda:{target.index}" : "cpu";
            var arithmetic = Smile.Training.MixedPrecision.Create(amp, out var fallback);
            if (fallback is not null) Console.Error.WriteLine($"warning: {fallback}");
            if (arithmetic.SpeedWarning(target) is { } slow) Console.Error.WriteLine($"warning: {slow}");
            int threads = TorchSharp.torch.get_num_threads();
            bool rounded = arithmetic.RoundsConvolutions(target);
            bool cuda = target.type == TorchSharp.DeviceType.CUDA;
            // On CUDA Smile's step is channels-last already (a run's default there).
            bool smileCl = !cuda && smileLayout != "no";
            Console.WriteLine($"{a}, {s}x{s}, batch {b}, {arithmetic.Name}, {targetName}, {threads} threads; Smile " +
                (cuda ? "with a run's CUDA defaults (channels-last, cuDNN autotuning and TF32, PyTorch given the last two; " : $"NCHW{(smileCl ? " and channels-last (the -cl rows)" : "")} ({Smile.Native.ThreadPolicy.State}; ") +
                $"teacher and eval forward {(folded ? "with BatchNorm folded" : "as modules, BatchNorm not folded")}) against " +
                $"PyTorch with GLIBC_TUNABLES mmap_max=0, trim_threshold=16 GiB, OpenMP's default wait policy{TorchBaseline.KernelsNote(amp)}" +
                (rounded ? $"; both compute {arithmetic.Name} convolutions as fp32 kernels on rounded operands (this CPU lacks oneDNN's {arithmetic.Name} kernels)" : ""));
            // Smile's convolutions on this CPU depend on it (docs/PLATFORM-NOTES.md, "oneDNN told its cache sizes are unknown").
            if (!cuda) Console.WriteLine($"Smile's oneDNN cache sizes: {Smile.Native.OneDnnCacheSizes.Apply()}");
            // On CUDA (or with the CPU stand-in, SMILE_STEP_GRAPHS=rerun) Smile's two steps are timed replayed from a graph too.
            bool graphs = new Smile.Training.CudaSpeed().GraphBackend(target, out var noGraphs) is not null;
            if (noGraphs is not null) Console.Error.WriteLine($"warning: {noGraphs}");
            var smile = new List<StepThroughput>();
            var replayed = new List<StepThroughput>();
            var smileInChannelsLast = new List<StepThroughput>();
            var nchw = new List<JsonElement>();
            var cl = new List<JsonElement>();
            for (int round = 0; round < r; round++)
            {
                // On the CPU the first row is NCHW, as labelled, whatever a run's default there (CudaSpeed.ForRun).
                smile.Add(TrainingBenchmark.Run(a, s, b, n, folded, arithmetic, target, speed: cuda ? null : new Smile.Training.CudaSpeed(ChannelsLast: "off")));
                if (round == 0) Console.WriteLine(smile[0].Switches);
                if (graphs) replayed.Add(TrainingBenchmark.Run(a, s, b, n, folded, arithmetic, target, graphs: true));
                if (smileCl) smileInChannelsLast.Add(TrainingBenchmark.Run(a, s, b, n, folded, arithmetic, target, speed: new Smile.Training.CudaSpeed(ChannelsLast: "on")));
                if (TorchBaseline.RunStep(a, s, b, n, threads, "nchw", precision: amp, device: targetName, roundedConvolutions: rounded) is JsonElement t1) nchw.Add(t1);
                if (withChannelsLast && TorchBaseline.RunStep(a, s, b, n, threads, "channels_last", precision: amp, device: targetName, roundedConvolutions: rounded) is JsonElement t2) cl.Add(t2);
                Console.WriteLine($"round {round + 1}: Smile l2 {smile[^1].L2:F2}, smile {smile[^1].Smile:F2}, eval {smile[^1].Eval:F2} images/s" +
                    (smileCl ? $"; Smile channels-last l2 {smileInChannelsLast[^1].L2:F2}, smile {smileInChannelsLast[^1].Smile:F2}, eval {smileInChannelsLast[^1].Eval:F2}" : "") +
                    (nchw.Count > round ? $"; PyTorch NCHW l2 {nchw[^1].GetProperty("l2").GetDouble():F2}, smile {nchw[^1].GetProperty("smile").GetDouble():F2}, eval {nchw[^1].GetProperty("eval").GetDouble():F2}" : "") +
                    (cl.Count > round ? $"; channels-last l2 {cl[^1].GetProperty("l2").GetDouble():F2}, smile {cl[^1].GetProperty("smile").GetDouble():F2}, eval {cl[^1].GetProperty("eval").GetDouble():F2}" : ""));
            }
            Console.WriteLine($"{"step",-11} {"Smile",10} {"PyTorch NCHW",13} {"PyTorch CL",11} {"Smile/NCHW min/med/max",24} {"Smile/CL min/med/max",22}");
            var rows = new List<(string, Func<StepThroughput, double>, List<StepThroughput>)> { ("l2", t => t.L2, smile), ("smile", t => t.Smile, smile), ("eval", t => t.Eval, smile) };
            if (graphs) rows.AddRange([("l2-graph", t => t.L2, replayed), ("smile-graph", t => t.Smile, replayed)]);
            if (smileCl) rows.AddRange([("l2-cl", t => t.L2, smileInChannelsLast), ("smile-cl", t => t.Smile, smileInChannelsLast), ("eval-cl", t => t.Eval, smileInChannelsLast)]);
            foreach (var (row, pick, runs) in rows)
            {
                string step = row.Split('-')[0]; // the PyTorch side's eager step of the same name
                var mine = runs.Select(pick).ToList();
                var theirs = nchw.Select(j => j.GetProperty(step).GetDouble()).ToList();
                var theirsCl = cl.Select(j => j.GetProperty(step).GetDouble()).ToList();
                Console.WriteLine($"{row,-11} {Median(mine),10:F2} {(theirs.Count > 0 ? Median(theirs) : double.NaN),13:F2} {(theirsCl.Count > 0 ? Median(theirsCl) : double.NaN),11:F2} {Ratios(mine, theirs),24} {Ratios(mine, theirsCl),22}");
            }
            if (!cuda && parse.GetValue(rates) == "yes" && FlopCount.ForwardPerImage(a, s) is double forward) // against the CPU's own rates: meaningless on a GPU
            {
                // What the steps do with the machine: FLOPs per image (backward = 2 x forward) against LibTorch's measured GEMM rate.
                double peak = MatmulPeak.Measure();
                double conv = MatmulPeak.ConvolutionRate();
                var (l2Flops, smileFlops, evalFlops) = FlopCount.PerStep(forward);
                Console.WriteLine($"arithmetic: forward {forward / 1e9:F2} GFLOP/image; measured fp32 matmul peak {peak:F1} GFLOP/s (best of 2048 and 4096 square, {threads} threads); " +
                    $"one 3x3 convolution (16x256x28x28, 256 filters) {conv:F1} GFLOP/s");
                foreach (var (step, flops, pick) in new (string, double, Func<StepThroughput, double>)[] { ("l2", l2Flops, t => t.L2), ("smile", smileFlops, t => t.Smile), ("eval", evalFlops, t => t.Eval) })
                {
                    double rate = Median(smile.Select(pick).ToList()) * flops / 1e9;
                    Console.WriteLine($"  {step,-6} {flops / 1e9,6:F2} GFLOP/image, Smile {rate,6:F1} GFLOP/s = {100 * rate / peak,5:F1}% of the matmul peak, {100 * rate / conv,5:F1}% of the convolution's rate" +
                        (nchw.Count > 0 ? $"; PyTorch NCHW {Median(nchw.Select(j => j.GetProperty(step).GetDouble()).ToList()) * flops / 1e9:F1} GFLOP/s" : ""));
                }
            }
            Console.WriteLine($"peak RSS: Smile process {smile.Concat(replayed).Concat(smileInChannelsLast).Max(t => t.PeakRssMiB):F0} MiB" +
                (nchw.Count > 0 ? $", PyTorch NCHW {nchw.Max(j => j.GetProperty("peak_rss_mib").GetDouble()):F0} MiB" : "") +
                (cl.Count > 0 ? $", channels-last {cl.Max(j => j.GetProperty("peak_rss_mib").GetDouble()):F0} MiB" : ""));
            if (nchw.Concat(cl).FirstOrDefault() is { ValueKind: JsonValueKind.Object } child)
                Console.WriteLine($"PyTorch {child.GetProperty("torch").GetString()}'s ATen kernels: {child.GetProperty("cpu_capability").GetString()}");
            // On CUDA the PyTorch side reports its caching allocator's peak (torch_step.py); Smile's is read outside
            // the process (scripts/dev/gpu-session.sh), since TorchSharp 0.107 exposes no allocator statistics.
            static string? Gpu(List<JsonElement> runs) => runs.Count > 0 && runs[0].TryGetProperty("peak_gpu_reserved_mib", out _)
                ? $"{runs.Max(j => j.GetProperty("peak_gpu_reserved_mib").GetDouble()):F0} MiB" : null;
            if (Gpu(nchw) is { } nchwGpu)
                Console.WriteLine($"peak GPU memory held by PyTorch's caching allocator: NCHW {nchwGpu}" + (Gpu(cl) is { } clGpu ? $", channels-last {clGpu}" : ""));
            return 0;
        });
        return command;
    }

    private static double Median(IEnumerable<double> values) => ProfileTable.Median(values);

    /// <summary>Smile / PyTorch per round (rounds paired in order): min/median/max.</summary>
    private static string Ratios(List<double> mine, List<double> theirs)
    {
        if (theirs.Count == 0) return "n/a";
        var ratios = mine.Zip(theirs, (m, t) => m / t).ToList();
        return $"{ratios.Min():F2}/{Median(ratios):F2}/{ratios.Max():F2}x";
    }
}

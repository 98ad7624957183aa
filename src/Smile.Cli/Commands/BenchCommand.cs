using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Smile.Data;

namespace Smile.Cli.Commands;

/// <summary>`smile bench data`: decode + train-transform throughput of Smile against the reference's Pillow
/// pipeline on the same generated JPEGs, in the same run.</summary>
internal static class BenchCommand
{
    private static readonly (int Width, int Height, string Like)[] Sizes = { (500, 375, "CUB"), (1000, 700, "Cars"), (2000, 1300, "Aircraft") };

    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks that print figures with a same-machine baseline beside them.");
        bench.Subcommands.Add(Data());
        bench.Subcommands.Add(Train());
        bench.Subcommands.Add(Memory());
        bench.Subcommands.Add(Inference());
        bench.Subcommands.Add(BenchProfileCommand.Create());
        return bench;
    }

    private static Command Data()
    {
        var images = new Option<int>("--images") { Description = "Generated JPEGs per size.", DefaultValueFactory = _ => 24 };
        var repeats = new Option<int>("--repeats") { Description = "Passes over the images per measurement.", DefaultValueFactory = _ => 3 };
        var workers = new Option<int>("--workers") { Description = "Threads for the all-workers figure (default: the number of cores).", DefaultValueFactory = _ => 0 };
        var size = new Option<int>("--image_size", "--image-size") { Description = "Crop size of the train transform.", DefaultValueFactory = _ => 224 };
        var command = new Command("data", "Decode + train transform throughput, Smile against Pillow, at CUB, Cars and Aircraft image sizes.") { images, repeats, workers, size };
        command.SetAction(parse =>
        {
            int count = parse.GetValue(images), passes = parse.GetValue(repeats), crop = parse.GetValue(size);
            int threads = parse.GetValue(workers) > 0 ? parse.GetValue(workers) : Environment.ProcessorCount;
            if (count < 1) throw new UsageException("--images: must be at least 1");
            if (passes < 1) throw new UsageException("--repeats: must be at least 1");
            Flags.Require(parse.GetValue(workers) >= 0, "workers", "must be 0 (all cores) or more");
            Flags.ImageSize(crop);
            var dir = Directory.CreateTempSubdirectory("smile-bench-data-").FullName;
            try
            {
                Console.WriteLine($"decode + train transform (resize to {TransformSpec.ResizeFor(crop)}, flip, crop {crop}, normalise); {count} images x {passes} passes; {threads} workers; medians of 3 interleaved rounds");
                Console.WriteLine($"{"size",-16} {"Smile 1 thread",15} {"Pillow 1 thread",16} {"ratio/core",11} {$"Smile {threads} thr.",15}");
                foreach (var (w, h, like) in Sizes)
                {
                    var files = DataBenchmark.GenerateJpegs(Path.Combine(dir, $"{w}x{h}"), w, h, count);
                    // Smile and Pillow alternate, three rounds, medians: machine drift hits both alike.
                    var smileSingle = new List<double>();
                    var smileAll = new List<double>();
                    var pillowSingle = new List<double>();
                    for (int round = 0; round < 3; round++)
                    {
                        var measured = DataBenchmark.Measure(files, crop, threads, passes);
                        smileSingle.Add(measured.SingleThreadPerSecond);
                        smileAll.Add(measured.AllWorkersPerSecond);
                        if (RunPillow(files, crop, passes) is double p) pillowSingle.Add(p);
                    }
                    var smile = new DataThroughput(count * passes, Median(smileSingle), threads, Median(smileAll));
                    double? pillow = pillowSingle.Count > 0 ? Median(pillowSingle) : null;
                    string ratio = pillow is double q0 ? $"{smile.SingleThreadPerSecond / q0,10:F2}x" : "       n/a";
                    string pil = pillow is double q ? $"{q,12:F1} im/s" : "   (no Pillow)";
                    Console.WriteLine($"{$"{w}x{h} ({like})",-16} {smile.SingleThreadPerSecond,10:F1} im/s {pil} {ratio} {smile.AllWorkersPerSecond,10:F1} im/s");
                }
                return 0;
            }
            finally
            {
                Directory.Delete(dir, recursive: true);
            }
        });
        return command;
    }

    private static Command Train()
    {
        var arch = Flags.Make("model_arch", "Architecture.", "resnet50");
        var size = Flags.Make("image_size", "Input size.", 224);
        var batch = Flags.Make("batch_size", "Batch size.", 16);
        var steps = Flags.Make("steps", "Timed steps per measurement (SMILE: steps/4 samples of 10 iterations).", 4);
        var rounds = Flags.Make("rounds", "Interleaved Smile / PyTorch rounds.", 2);
        var channelsLast = Flags.Make("channels_last", "Also time PyTorch in channels-last (yes or no).", "yes");
        var fold = Flags.Make("fold_batchnorm", "Run Smile's teacher and eval forward with BatchNorm folded into the convolutions, as training and evaluation do (yes or no).", "yes");
        var command = new Command("train", "Training-step throughput, Smile against Debian's PyTorch 1.13 (tuned allocator, NCHW and channels-last).") { arch, size, batch, steps, rounds, channelsLast, fold };
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
            Flags.Require(parse.GetValue(fold) is "yes" or "no", "fold_batchnorm", "must be yes or no");
            bool folded = parse.GetValue(fold) == "yes";
            int threads = TorchSharp.torch.get_num_threads();
            Console.WriteLine($"{a}, {s}x{s}, batch {b}, fp32, {threads} threads; Smile NCHW (its only CPU layout; {Smile.Native.ThreadPolicy.State}; " +
                $"teacher and eval forward {(folded ? "with BatchNorm folded" : "as modules, BatchNorm not folded")}) against " +
                "PyTorch with GLIBC_TUNABLES mmap_max=0, trim_threshold=16 GiB and OpenMP's default wait policy");
            var smile = new List<Smile.Diagnostics.StepThroughput>();
            var nchw = new List<JsonElement>();
            var cl = new List<JsonElement>();
            for (int round = 0; round < r; round++)
            {
                smile.Add(Smile.Diagnostics.TrainingBenchmark.Run(a, s, b, n, folded));
                if (RunTorch(a, s, b, n, threads, "nchw") is JsonElement t1) nchw.Add(t1);
                if (withChannelsLast && RunTorch(a, s, b, n, threads, "channels_last") is JsonElement t2) cl.Add(t2);
                Console.WriteLine($"round {round + 1}: Smile l2 {smile[^1].L2:F2}, smile {smile[^1].Smile:F2}, eval {smile[^1].Eval:F2} images/s" +
                    (nchw.Count > round ? $"; PyTorch NCHW l2 {nchw[^1].GetProperty("l2").GetDouble():F2}, smile {nchw[^1].GetProperty("smile").GetDouble():F2}, eval {nchw[^1].GetProperty("eval").GetDouble():F2}" : "") +
                    (cl.Count > round ? $"; channels-last l2 {cl[^1].GetProperty("l2").GetDouble():F2}, smile {cl[^1].GetProperty("smile").GetDouble():F2}, eval {cl[^1].GetProperty("eval").GetDouble():F2}" : ""));
            }
            Console.WriteLine($"{"step",-6} {"Smile",10} {"PyTorch NCHW",13} {"PyTorch CL",11} {"Smile/NCHW min/med/max",24} {"Smile/CL min/med/max",22}");
            foreach (var (step, pick) in new (string, Func<Smile.Diagnostics.StepThroughput, double>)[] { ("l2", t => t.L2), ("smile", t => t.Smile), ("eval", t => t.Eval) })
            {
                var mine = smile.Select(pick).ToList();
                var theirs = nchw.Select(j => j.GetProperty(step).GetDouble()).ToList();
                var theirsCl = cl.Select(j => j.GetProperty(step).GetDouble()).ToList();
                Console.WriteLine($"{step,-6} {Median(mine),10:F2} {(theirs.Count > 0 ? Median(theirs) : double.NaN),13:F2} {(theirsCl.Count > 0 ? Median(theirsCl) : double.NaN),11:F2} {Ratios(mine, theirs),24} {Ratios(mine, theirsCl),22}");
            }
            if (Smile.Diagnostics.FlopCount.ForwardPerImage(a, s) is double forward)
            {
                // What the steps do with the machine: FLOPs per image (backward = 2 x forward) against LibTorch's measured GEMM rate.
                double peak = Smile.Diagnostics.MatmulPeak.Measure();
                double conv = Smile.Diagnostics.MatmulPeak.ConvolutionRate();
                var (l2Flops, smileFlops, evalFlops) = Smile.Diagnostics.FlopCount.PerStep(forward);
                Console.WriteLine($"arithmetic: forward {forward / 1e9:F2} GFLOP/image; measured fp32 matmul peak {peak:F1} GFLOP/s (best of 2048 and 4096 square, {threads} threads); " +
                    $"one 3x3 convolution (16x256x28x28, 256 filters) {conv:F1} GFLOP/s");
                foreach (var (step, flops, pick) in new (string, double, Func<Smile.Diagnostics.StepThroughput, double>)[] { ("l2", l2Flops, t => t.L2), ("smile", smileFlops, t => t.Smile), ("eval", evalFlops, t => t.Eval) })
                {
                    double rate = Median(smile.Select(pick).ToList()) * flops / 1e9;
                    Console.WriteLine($"  {step,-6} {flops / 1e9,6:F2} GFLOP/image, Smile {rate,6:F1} GFLOP/s = {100 * rate / peak,5:F1}% of the matmul peak, {100 * rate / conv,5:F1}% of the convolution's rate" +
                        (nchw.Count > 0 ? $"; PyTorch NCHW {Median(nchw.Select(j => j.GetProperty(step).GetDouble()).ToList()) * flops / 1e9:F1} GFLOP/s" : ""));
                }
            }
            Console.WriteLine($"peak RSS: Smile process {smile.Max(t => t.PeakRssMiB):F0} MiB" +
                (nchw.Count > 0 ? $", PyTorch NCHW {nchw.Max(j => j.GetProperty("peak_rss_mib").GetDouble()):F0} MiB" : "") +
                (cl.Count > 0 ? $", channels-last {cl.Max(j => j.GetProperty("peak_rss_mib").GetDouble()):F0} MiB" : ""));
            return 0;
        });
        return command;
    }

    private static Command Inference()
    {
        var arch = Flags.Make("model_arch", "Architecture (a ResNet).", "resnet50");
        var size = Flags.Make("image_size", "Input size.", 224);
        var batch = Flags.Make("batch_size", "Batch size.", 16);
        var rounds = Flags.Make("rounds", "Rounds; each times every path once.", 10);
        var command = new Command("inference", "Eval-mode forward of a ResNet two ways, interleaved: the module, and with BatchNorm folded into the convolutions.")
            { arch, size, batch, rounds };
        command.SetAction(parse =>
        {
            string a = Smile.Models.ModelFactory.CanonicalName(parse.GetValue(arch)!);
            int s = parse.GetValue(size), b = parse.GetValue(batch), r = parse.GetValue(rounds);
            Flags.ImageSize(s);
            Flags.Require(b >= 1, "batch_size", "must be at least 1");
            Flags.Require(r >= 1, "rounds", "must be at least 1");
            Console.WriteLine($"{a}, {s}x{s}, batch {b}, fp32, {TorchSharp.torch.get_num_threads()} threads, eval mode, no autograd; {r} interleaved rounds; ms per forward");
            var t = Smile.Diagnostics.InferenceBenchmark.Run(a, s, b, r);
            foreach (var round in t.Rounds) Console.WriteLine($"  round: module {round[0]:F1}, folded {round[1]:F1}");
            Console.WriteLine($"{"path",-34} {"median ms",10} {"images/s",9} {"vs module",10}");
            foreach (var (name, ms) in new[] { ("module (BatchNorm as its own pass)", t.ModuleMs), ("BatchNorm folded", t.FoldedMs) })
                Console.WriteLine($"{name,-34} {ms,10:F1} {b * 1000 / ms,9:F2} {t.ModuleMs / ms,9:F2}x");
            return 0;
        });
        return command;
    }

    private static Command Memory()
    {
        var arch = Flags.Make("model_arch", "Architecture.", "resnet18");
        var size = Flags.Make("image_size", "Input size.", 32);
        var batch = Flags.Make("batch_size", "Batch size.", 64);
        var regularizer = Flags.Make("regularizer", "The step to repeat: l2 or smile.", "smile");
        var iters = Flags.Make("iters", "Training iterations.", 1000);
        var every = Flags.Make("every", "Read the resident memory after every this many iterations.", 100);
        var baseline = Flags.Make("baseline", "Also run the PyTorch reference step (yes or no).", "yes");
        var command = new Command("memory", "Resident memory over a long run of training steps, Smile and the PyTorch reference, each in its own process.")
            { arch, size, batch, regularizer, iters, every, baseline };
        command.SetAction(parse =>
        {
            string a = Smile.Models.ModelFactory.CanonicalName(parse.GetValue(arch)!);
            string reg = parse.GetValue(regularizer)!;
            int s = parse.GetValue(size), b = parse.GetValue(batch), n = parse.GetValue(iters), e = parse.GetValue(every);
            Flags.Require(reg is "l2" or "smile", "regularizer", "must be l2 or smile");
            Flags.ImageSize(s);
            Flags.Require(b >= 2, "batch_size", "must be at least 2");
            Flags.Require(n >= 1, "iters", "must be at least 1");
            Flags.Require(e >= 1 && e <= n, "every", "must be between 1 and --iters");
            Flags.Require(parse.GetValue(baseline) is "yes" or "no", "baseline", "must be yes or no");
            int threads = TorchSharp.torch.get_num_threads();
            Console.WriteLine($"{a}, {s}x{s}, batch {b}, {reg} step x {n}, fp32, {threads} threads; resident memory (VmRSS, MiB) after every {e} iterations; " +
                $"Smile: allocator {Smile.Native.AllocatorPolicy.State}, finalizer drain {(Smile.Native.NativeGarbage.Enabled ? "on" : "off (SMILE_DRAIN_FINALIZERS=0)")}");
            var mine = Smile.Diagnostics.MemoryBenchmark.Run(a, s, b, reg, n, e,
                r => Console.Error.WriteLine($"  Smile {r.Iteration}/{n}: {r.RssMiB:F0} MiB, {r.Seconds:F1} s"));
            List<(long Iteration, double Rss)>? theirs = null;
            if (parse.GetValue(baseline) == "yes"
                && RunTorch(a, s, b, 1, threads, "nchw", ["memory", reg, n.ToString(System.Globalization.CultureInfo.InvariantCulture), e.ToString(System.Globalization.CultureInfo.InvariantCulture)]) is JsonElement t)
                theirs = t.GetProperty("readings").EnumerateArray().Select(r => (r[0].GetInt64(), r[1].GetDouble())).ToList();
            Console.WriteLine($"{"iteration",9} {"Smile MiB",10} {"PyTorch MiB",12}");
            for (int i = 0; i < mine.Count; i++)
                Console.WriteLine($"{mine[i].Iteration,9} {mine[i].RssMiB,10:F0} {(theirs is not null && i < theirs.Count ? theirs[i].Rss.ToString("F0", System.Globalization.CultureInfo.InvariantCulture) : "-"),12}");
            Console.WriteLine($"Smile: {Growth(mine.Select(r => (r.Iteration, r.RssMiB)).ToList())}" + (theirs is null ? "" : $"; PyTorch: {Growth(theirs)}"));
            return 0;
        });
        return command;
    }

    /// <summary>"after N: X MiB, after the first reading (M): Y MiB, +Z%".</summary>
    private static string Growth(List<(long Iteration, double Rss)> readings)
    {
        var (firstAt, first) = readings[0];
        var (lastAt, last) = readings[^1];
        return $"{last:F0} MiB after {lastAt} iterations, {first:F0} MiB after {firstAt}: {100 * (last - first) / first:+0.0;-0.0}%";
    }

    /// <summary>Smile / PyTorch per round (rounds paired in order): min/median/max.</summary>
    private static string Ratios(List<double> mine, List<double> theirs)
    {
        if (theirs.Count == 0) return "n/a";
        var ratios = mine.Zip(theirs, (m, t) => m / t).ToList();
        return $"{ratios.Min():F2}/{Median(ratios):F2}/{ratios.Max():F2}x";
    }

    private static JsonElement? RunTorch(string arch, int size, int batch, int steps, int threads, string layout, string[]? extra = null)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "bench", "torch_step.py");
        if (!File.Exists(TorchBaseline.Interpreter) || !File.Exists(script)) return null;
        // PyTorch as its users run it: OpenMP's default wait policy, whatever this process uses.
        var start = TorchBaseline.Start(script, new Dictionary<string, string>());
        foreach (var a in new object[] { arch, size, batch, steps, threads, layout }) start.ArgumentList.Add(Convert.ToString(a, System.Globalization.CultureInfo.InvariantCulture)!);
        foreach (var a in extra ?? []) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            Console.Error.WriteLine($"warning: the PyTorch baseline ({layout}) failed: {error.Result.Trim().Split('\n').LastOrDefault()}; run scripts/install-deps.sh");
            return null;
        }
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    private static double Median(IEnumerable<double> values) => Smile.Diagnostics.ProfileTable.Median(values);

    /// <summary>The reference pipeline in Pillow 9.4 (Debian's python3-pil) on one core; null when it cannot run.</summary>
    private static double? RunPillow(IReadOnlyList<string> files, int crop, int repeats)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "bench", "pillow_pipeline.py");
        if (!File.Exists("/usr/bin/python3") || !File.Exists(script)) return null;
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(crop.ToString(System.Globalization.CultureInfo.InvariantCulture));
        start.ArgumentList.Add(repeats.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var f in files) start.ArgumentList.Add(f);
        start.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            Console.Error.WriteLine($"warning: the Pillow baseline failed ({error.Trim().Split('\n').LastOrDefault()}); run scripts/install-deps.sh");
            return null;
        }
        using var json = JsonDocument.Parse(output);
        return json.RootElement.GetProperty("images_per_s").GetDouble();
    }
}

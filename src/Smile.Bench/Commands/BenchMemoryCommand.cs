using System.CommandLine;
using System.Text.Json;
using Smile.Cli;

namespace Smile.Bench.Commands;

/// <summary>`smile bench memory`: resident memory over a long run of training steps, Smile and the PyTorch reference
/// (src/Smile.Bench/bench/torch_step.py), each in its own process.</summary>
internal static class BenchMemoryCommand
{
    public static Command Create()
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
            var mine = MemoryBenchmark.Run(a, s, b, reg, n, e,
                r => Console.Error.WriteLine($"  Smile {r.Iteration}/{n}: {r.RssMiB:F0} MiB, {r.Seconds:F1} s"));
            List<(long Iteration, double Rss)>? theirs = null;
            if (parse.GetValue(baseline) == "yes"
                && TorchBaseline.RunStep(a, s, b, 1, threads, "nchw", ["memory", reg, n.ToString(System.Globalization.CultureInfo.InvariantCulture), e.ToString(System.Globalization.CultureInfo.InvariantCulture)]) is JsonElement t)
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
}

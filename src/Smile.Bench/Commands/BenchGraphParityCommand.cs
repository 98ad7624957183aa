using System.CommandLine;
using System.Globalization;
using Smile.Cli;
using Smile.Methods;
using Smile.Native;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Bench.Commands;

/// <summary>
/// `smile bench graph-parity`: whether SMILE steps replayed from a graph (Training/StepGraphs.cs) give the eager steps'
/// weights. Three runs from the same weights, batches and mixes: eager twice (the device's own run-to-run spread: on a
/// GPU, kernels that add with atomics differ between runs) and once through the graph runner (CUDA's graphs on CUDA;
/// on the CPU the stand-in that runs the recorded step again, so the command runs in scripts/gpu-check.sh's CPU mode).
/// Passes when the replayed run is as close to the eager one as the two eager runs are to each other (4 times their
/// spread, and at least 1e-5 of the weights' scale on CUDA; exactly equal on the CPU). Exit 1 when it fails.
/// </summary>
internal static class BenchGraphParityCommand
{
    public static Command Create()
    {
        var arch = Flags.Make("model_arch", "Architecture.", "resnet18");
        var size = Flags.Make("image_size", "Input size.", 64);
        var batch = Flags.Make("batch_size", "Batch size.", 8);
        var steps = Flags.Make("steps", "SMILE steps per run (the first 3 eager, then captured and replayed; the mean teacher every 10th).", 14);
        var precision = Flags.Make("precision", "fp32 or bf16.", "fp32");
        var device = Flags.Make("device", "cpu, cuda, cuda:N or auto.", "cpu");
        var command = new Command("graph-parity", "SMILE steps replayed from a CUDA graph against eager steps (scripts/gpu-check.sh).")
            { arch, size, batch, steps, precision, device };
        command.SetAction(parse =>
        {
            string a = Smile.Models.ModelFactory.CanonicalName(parse.GetValue(arch)!);
            int s = parse.GetValue(size), b = parse.GetValue(batch), n = parse.GetValue(steps);
            Flags.ImageSize(s);
            Flags.Require(b >= 2, "batch_size", "must be at least 2");
            Flags.Require(n > StepGraphs.WarmupSteps, "steps", $"must be more than the {StepGraphs.WarmupSteps} eager warm-up steps");
            var arithmetic = MixedPrecision.Create(parse.GetValue(precision)!, out var fallback);
            if (fallback is not null) Console.Error.WriteLine($"warning: {fallback}");
            var target = DeviceSelection.Parse(parse.GetValue(device)!);
            bool cuda = target.type == DeviceType.CUDA;
            if (cuda && !CudaGraph.Available) throw new UsageException($"--device: CUDA graphs are not available in this LibTorch ({CudaGraph.Unavailable})");
            Func<IStepGraph> backend = cuda ? () => new CudaStepGraph(Math.Max((int)target.index, 0)) : () => new RerunStepGraph();

            var first = Run(a, s, b, n, arithmetic, target, null, out _);
            var second = Run(a, s, b, n, arithmetic, target, null, out _);
            var replayed = Run(a, s, b, n, arithmetic, target, backend, out var replays);
            double spread = MaxDifference(first, second), difference = MaxDifference(first, replayed);
            double scale;
            using (NewDisposeScope()) scale = first.Values.Max(t => t.abs().max().item<double>());
            double allowed = cuda ? Math.Max(4 * spread, 1e-5 * scale) : 0;
            bool pass = difference <= allowed && replays > 0;
            var c = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(c, $"graph parity: {a}, {s}x{s}, batch {b}, {arithmetic.Name}, {target}, {n} SMILE steps ({replays} replayed from a {(cuda ? "CUDA graph" : "CPU stand-in")})"));
            Console.WriteLine(string.Create(c, $"eager vs eager: max |difference| {spread:E2} over the student, its buffers, the mean teacher and the losses"));
            Console.WriteLine(string.Create(c, $"eager vs replayed: max |difference| {difference:E2}, allowed {allowed:E2} (weights' scale {scale:E2}): {(pass ? "PASS" : "FAIL")}"));
            foreach (var t in first.Values.Concat(second.Values).Concat(replayed.Values)) t.Dispose();
            return pass ? 0 : 1;
        });
        return command;
    }

    /// <summary>One run of <paramref name="steps"/> SMILE steps on the benchmarks' workload (<see cref="BenchmarkWorkload"/>,
    /// seeded: the same weights in every run) with seeded batches and mixes: the student, its buffers, the teacher and each
    /// step's loss afterwards, on the CPU, by name.</summary>
    private static Dictionary<string, Tensor> Run(string arch, int size, int batch, int steps, MixedPrecision precision, Device device,
        Func<IStepGraph>? backend, out int replays)
    {
        using var work = new BenchmarkWorkload(arch, size, batch, precision: precision, device: device, graphBackend: backend);
        using var method = Regularizers.Create("smile");
        var results = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        for (int i = 0; i < steps; i++)
        {
            using var scope = NewDisposeScope();
            var generator = new Generator(1000 + (ulong)i);
            var x = randn([batch, 3, size, size], generator: generator).to(device);
            if (work.ChannelsLast) x = CudaSpeed.ToChannelsLast(x);
            var y = randint(0, 200, [batch], generator: generator).to(device);
            var result = work.Step(method, i, new StepBatch(x, y), method.DrawMix(new Random(i), batch));
            results[$"loss.{i}"] = tensor(result.Loss, ScalarType.Float64).DetachFromDisposeScope();
        }
        foreach (var (name, value) in work.Snapshot()) results[name] = value;
        replays = work.Replays;
        return results;
    }

    private static double MaxDifference(Dictionary<string, Tensor> a, Dictionary<string, Tensor> b)
    {
        using var scope = NewDisposeScope();
        return a.Max(kv => (kv.Value - b[kv.Key]).abs().max().item<double>());
    }
}

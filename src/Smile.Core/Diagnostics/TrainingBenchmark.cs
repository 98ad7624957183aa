using System.Diagnostics;
using Smile.Models;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Diagnostics;

/// <summary>Images per second of Smile's l2 step, SMILE step and eval forward, and the process's peak resident memory.</summary>
public sealed record StepThroughput(double L2, double Smile, double Eval, double PeakRssMiB);

/// <summary>
/// The same three measurements as the PyTorch side of `smile bench train` (src/Smile.Cli/bench/torch_step.py):
/// a 200-class student with a 1000-class aux head, a frozen 1000-class teacher, random data, the trainer's
/// regularizers and optimizer. The SMILE step is timed over 10 iterations at a time so that the mean-teacher
/// EMA (every 10th iteration) is amortised as in training.
/// </summary>
public static class TrainingBenchmark
{
    public static StepThroughput Run(string arch, int imageSize, int batchSize, int steps)
    {
        torch.random.manual_seed(0);
        using var teacher = ModelFactory.Create(arch, 1000);
        teacher.eval();
        foreach (var p in teacher.parameters()) p.requires_grad = false;
        using var student = ModelFactory.Create(arch, 200, 1000);
        student.train();
        using var context = new TrainingContext(student, teacher, new RegularizerOptions());
        using var sgd = new NesterovSgd(student.named_parameters().Select(p => (p.name, p.parameter, true)), 0.01);
        using var x = randn(batchSize, 3, imageSize, imageSize);
        using var y = randint(0, 200, batchSize);
        var l2 = Regularizers.Create("l2");
        var smile = Regularizers.Create("smile");
        var rng = new Random(0);

        void Step(IRegularizer regularizer, long iteration)
        {
            using var scope = NewDisposeScope();
            var mix = regularizer.UsesMixup ? MixPlan.Draw(rng, 0.2, batchSize) : null;
            sgd.ZeroGrad();
            using var losses = regularizer.Loss(context, new StepBatch(x, y), mix);
            losses.Total.backward();
            sgd.Step();
            regularizer.AfterStep(context, iteration);
        }

        void Eval()
        {
            using var scope = NewDisposeScope();
            student.eval();
            using (no_grad()) student.call(x);
            student.train();
        }

        double l2Rate = Timed(_ => Step(l2, 1), steps, batchSize);
        double smileRate = Timed(_ => { for (int k = 0; k < 10; k++) Step(smile, k); }, Math.Max(1, steps / 4), batchSize * 10);
        double evalRate = Timed(_ => Eval(), steps, batchSize);
        return new StepThroughput(l2Rate, smileRate, evalRate, PeakRssMiB());
    }

    /// <summary>Median images/s over <paramref name="samples"/> timed calls after two warm-up calls.</summary>
    private static double Timed(Action<int> action, int samples, int imagesPerCall)
    {
        action(-1); // warm-up: JIT, allocator growth, oneDNN primitive creation
        action(-1);
        var seconds = new List<double>();
        for (int i = 0; i < samples; i++)
        {
            var clock = Stopwatch.StartNew();
            action(i);
            seconds.Add(clock.Elapsed.TotalSeconds);
        }
        seconds.Sort();
        double median = seconds.Count % 2 == 1 ? seconds[seconds.Count / 2] : (seconds[seconds.Count / 2 - 1] + seconds[seconds.Count / 2]) / 2;
        return imagesPerCall / median;
    }

    /// <summary>VmHWM of /proc/self/status: the peak resident set of this process.</summary>
    public static double PeakRssMiB()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? double.NaN : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException) { return double.NaN; }
    }
}

using System.Diagnostics;
using System.Runtime.InteropServices;
using Smile.Models;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Bench;

/// <summary>The stages of a SMILE training iteration that <see cref="StepProfile"/> times, in order (the order of
/// <see cref="StepStage"/>). The PyTorch side (src/Smile.Bench/bench/torch_profile.py) uses the same names.</summary>
public static class StepStages
{
    public static IReadOnlyList<string> Names { get; } =
    [
        "batch to tensor", "zero_grad", "mixup", "student forward", "teacher forward", "teacher targets",
        "main CE (mixed)", "aux soft CE", "feature reg", "cls L2", "accuracy", "sum", "loss values (.item)",
        "backward", "optimizer step", "EMA (every 10th, amortised)", "release (end of step)",
    ];
}

/// <summary>
/// One SMILE training iteration exactly as the trainer runs it: the batch tensors, then the engine's own
/// <see cref="TrainingStep.Run"/> (the SMILE loss, backward, the optimizer, the mean teacher), then the end of the
/// iteration, with a clock read at each <see cref="StepStage"/> the step marks. Nothing of the step is copied
/// here, so what is profiled is what trains. LibTorch on the CPU is synchronous, so wall-clock marks between calls
/// time the calls.
/// </summary>
public sealed class StepProfile
{
    private readonly TrainingContext ctx;
    private readonly IOptimizer optimizer;
    private readonly SmileRegularizer method;

    /// <summary><paramref name="method"/>: the SMILE method with its settings (default: SMILE's defaults).</summary>
    public StepProfile(TrainingContext ctx, IOptimizer optimizer, SmileRegularizer? method = null)
    {
        this.method = method ?? new SmileRegularizer();
        this.ctx = ctx ?? throw new ArgumentNullException(nameof(ctx));
        this.optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        if (ctx.Teacher is null) throw new ArgumentException("the SMILE step needs a teacher", nameof(ctx));
    }

    /// <summary>One iteration on <paramref name="images"/> (N x 3 x size x size floats, as the loader fills a batch)
    /// and <paramref name="labels"/>, the mix drawn from <paramref name="mixRng"/> with the method's alpha. Adds each
    /// stage's milliseconds to <paramref name="stageMs"/> (indexed as <see cref="StepStage"/>) when given. Returns the
    /// loss values the trainer logs: each term, "total" and "accuracy".</summary>
    public IReadOnlyDictionary<string, double> Step(ReadOnlySpan<float> images, long[] labels, int imageSize, Random mixRng, long iteration, double[]? stageMs = null)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(mixRng);
        var clock = new StageClock(stageMs);
        StepResult result;
        using (var scope = NewDisposeScope())
        {
            // The loader writes each image's floats straight into the batch tensor; the trainer moves it to the device.
            var batch = empty(labels.Length, 3, imageSize, imageSize);
            images.CopyTo(MemoryMarshal.Cast<byte, float>(batch.bytes));
            var device = LossTerms.ParameterDevice(ctx.Student);
            var x = batch.to(device);
            var y = tensor(labels).to(device);
            var mix = method.DrawMix(mixRng, labels.Length);
            clock.Mark(StepStage.BatchToTensor);
            result = TrainingStep.Run(ctx, method, optimizer, new StepBatch(x, y), mix, iteration, clock);
        }
        Smile.Native.NativeGarbage.Release(); // as the engine does after each iteration
        clock.Mark(StepStage.Release);
        var values = new Dictionary<string, double>(result.Terms, StringComparer.Ordinal)
        {
            ["total"] = result.Loss,
            ["accuracy"] = result.Accuracy,
        };
        return values;
    }

    /// <summary>Adds the time since the previous mark to a stage.</summary>
    private sealed class StageClock(double[]? stageMs) : IStepTimer
    {
        private long last = Stopwatch.GetTimestamp();

        public void Mark(StepStage stage)
        {
            long now = Stopwatch.GetTimestamp();
            if (stageMs is not null) stageMs[(int)stage] += (now - last) * 1000.0 / Stopwatch.Frequency;
            last = now;
        }
    }
}

/// <summary>
/// The SMILE step of `smile bench train` made to be profiled: a 200-class student with a 1000-class aux head, a
/// frozen 1000-class teacher, Nesterov SGD (lr 0.01), random images in a float buffer, SMILE's default settings.
/// </summary>
public sealed class StepProfileRun : IDisposable
{
    private readonly ImageClassifier teacher;
    private readonly ImageClassifier student;
    private readonly TrainingContext context;
    private readonly NesterovSgd sgd;
    private readonly StepProfile profile;
    private readonly float[] images;
    private readonly long[] labels;
    private readonly int imageSize;
    private readonly Random mixRng = new(0);

    public StepProfileRun(string arch, int imageSize, int batchSize)
    {
        (teacher, student) = BenchmarkWorkload.CreateModels(arch);
        context = new TrainingContext(student, teacher, new LossOptions());
        sgd = new NesterovSgd(student.named_parameters().Select(p => (p.name, p.parameter, true)), 0.01);
        profile = new StepProfile(context, sgd);
        this.imageSize = imageSize;
        using (var x = randn(batchSize, 3, imageSize, imageSize)) images = x.data<float>().ToArray();
        var rng = new Random(0);
        labels = Enumerable.Range(0, batchSize).Select(_ => (long)rng.Next(200)).ToArray();
    }

    /// <summary>Iterations 0 .. <paramref name="iterations"/> - 1 (the EMA runs at 0); returns each stage's mean
    /// milliseconds per iteration, so that the EMA is amortised over its period when iterations is 10.</summary>
    public double[] Run(int iterations)
    {
        var ms = new double[StepStages.Names.Count];
        for (int i = 0; i < iterations; i++) profile.Step(images, labels, imageSize, mixRng, i, ms);
        return ms.Select(v => v / iterations).ToArray();
    }

    public void Dispose()
    {
        sgd.Dispose();
        context.Dispose();
        student.Dispose();
        teacher.Dispose();
    }
}

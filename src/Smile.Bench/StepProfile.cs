using System.Diagnostics;
using System.Runtime.InteropServices;
using Smile.Models;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Bench;

/// <summary>The stages of a SMILE training iteration that <see cref="StepProfile"/> times, in order. The PyTorch side
/// (src/Smile.Bench/bench/torch_profile.py) uses the same names.</summary>
public static class StepStages
{
    public const int BatchToTensor = 0, ZeroGrad = 1, Mixup = 2, StudentForward = 3, TeacherForward = 4, TeacherTargets = 5,
        MainCe = 6, AuxCe = 7, FeatureReg = 8, ClsL2 = 9, Accuracy = 10, Sum = 11, Items = 12, Backward = 13,
        Optimizer = 14, Ema = 15, Release = 16;

    public static IReadOnlyList<string> Names { get; } =
    [
        "batch to tensor", "zero_grad", "mixup", "student forward", "teacher forward", "teacher targets",
        "main CE (mixed)", "aux soft CE", "feature reg", "cls L2", "accuracy", "sum", "loss values (.item)",
        "backward", "optimizer step", "EMA (every 10th, amortised)", "release (end of step)",
    ];
}

/// <summary>
/// One SMILE training iteration as the trainer performs it (batch tensors, <see cref="NesterovSgd.ZeroGrad"/>, the mix
/// draw, <see cref="SmileRegularizer.Loss"/>, the loss values read for logging, backward, <see cref="NesterovSgd.Step"/>,
/// <see cref="SmileRegularizer.AfterStep"/>, the end of the step's dispose scope), with a timer mark between stages.
/// The loss is a copy of <see cref="SmileRegularizer.Loss"/> with the marks put in: the same calls in the same order,
/// so that the real regularizer pays nothing for being profiled; a test checks that the two compute the same loss
/// and the same update. LibTorch on the CPU is synchronous, so wall-clock marks between calls time the calls.
/// </summary>
public sealed class StepProfile
{
    private readonly TrainingContext ctx;
    private readonly NesterovSgd sgd;
    private readonly SmileRegularizer regularizer = new();

    public StepProfile(TrainingContext ctx, NesterovSgd sgd)
    {
        this.ctx = ctx ?? throw new ArgumentNullException(nameof(ctx));
        this.sgd = sgd ?? throw new ArgumentNullException(nameof(sgd));
        if (ctx.Teacher is null) throw new ArgumentException("the SMILE step needs a teacher", nameof(ctx));
    }

    /// <summary>One iteration on <paramref name="images"/> (N x 3 x size x size floats, as the loader fills a batch)
    /// and <paramref name="labels"/>, the mix drawn from <paramref name="mixRng"/> with the options' alpha. Adds each
    /// stage's milliseconds to <paramref name="stageMs"/> (indexed by <see cref="StepStages"/>) when given. Returns the
    /// loss values the trainer logs: each term, "total" and "accuracy".</summary>
    public IReadOnlyDictionary<string, double> Step(ReadOnlySpan<float> images, long[] labels, int imageSize, Random mixRng, long iteration, double[]? stageMs = null)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(mixRng);
        var clock = new StageClock(stageMs);
        Dictionary<string, double> values;
        var step = NewDisposeScope();
        try
        {
            // The loader writes each image's floats straight into the batch tensor; the trainer moves it to the device.
            var batch = empty(labels.Length, 3, imageSize, imageSize);
            images.CopyTo(MemoryMarshal.Cast<byte, float>(batch.bytes));
            var device = LossTerms.ParameterDevice(ctx.Student);
            var x = batch.to(device);
            var y = tensor(labels).to(device);
            clock.Mark(StepStages.BatchToTensor);

            sgd.ZeroGrad();
            clock.Mark(StepStages.ZeroGrad);

            var mix = MixPlan.Draw(mixRng, ctx.Options.Alpha, labels.Length);
            var losses = Loss(x, y, mix, clock);

            values = losses.Terms.ToDictionary(t => t.Key, t => (double)t.Value.item<float>(), StringComparer.Ordinal);
            values["total"] = losses.Total.item<float>();
            values["accuracy"] = losses.Accuracy?.item<float>() ?? double.NaN;
            clock.Mark(StepStages.Items);

            losses.Total.backward();
            clock.Mark(StepStages.Backward);
            sgd.Step();
            clock.Mark(StepStages.Optimizer);
            regularizer.AfterStep(ctx, iteration);
            clock.Mark(StepStages.Ema);
        }
        finally
        {
            step.Dispose();
        }
        Smile.Native.NativeGarbage.Release(); // as the trainer does after each iteration
        clock.Mark(StepStages.Release);
        return values;
    }

    /// <summary><see cref="SmileRegularizer.Loss"/>, call for call, with marks. Ends with the "sum" stage, which
    /// includes the end of the loss's own dispose scope.</summary>
    private StepLosses Loss(Tensor images, Tensor labels, MixPlan mix, StageClock clock)
    {
        double lam = mix.Lambda;

        var scope = NewDisposeScope();
        try
        {
            var permutation = LossTerms.PermutationIndex(mix, images);
            var mixed = LossTerms.Mix(images, lam, permutation);
            clock.Mark(StepStages.Mixup);

            var student = ctx.Student.call(mixed);
            var auxMix = student.AuxLogits
                ?? throw new InvalidOperationException("the smile regularizer needs a student with an aux head (aux_fc, the source classifier's shape)");
            clock.Mark(StepStages.StudentForward);

            Tensor softTargets, featureTarget;
            using (no_grad())
            {
                var source = ctx.TeacherForward(images);
                clock.Mark(StepStages.TeacherForward);
                softTargets = source.Logits.softmax(1);
                featureTarget = LossTerms.Mix(source.Features, lam, permutation);
                clock.Mark(StepStages.TeacherTargets);
            }
            if (auxMix.shape[1] != softTargets.shape[1] || !student.Features.shape.SequenceEqual(featureTarget.shape))
                throw new InvalidOperationException("the student's aux head or feature map does not match the teacher's");

            var main = LossTerms.MixedCrossEntropy(student.Logits, labels, lam, permutation);
            clock.Mark(StepStages.MainCe);
            var aux = LossTerms.SoftCrossEntropy(auxMix, softTargets) * lam
                    + LossTerms.SoftCrossEntropy(auxMix, softTargets.index_select(0, permutation)) * (1.0 - lam);
            var auxWeighted = aux * ctx.Options.AuxLambda;
            clock.Mark(StepStages.AuxCe);
            long spatial = student.Features.shape[2] * student.Features.shape[3];
            var reg = (featureTarget - student.Features).norm() / spatial;
            var regWeighted = reg * ctx.Options.RegLambda;
            clock.Mark(StepStages.FeatureReg);
            var cls = LossTerms.ClassifierL2(ctx);
            var clsWeighted = cls * ctx.Options.ClsLambda;
            clock.Mark(StepStages.ClsL2);

            var terms = new List<(string, Tensor)> { ("main", main), ("aux", auxWeighted), ("reg", regWeighted), ("cls", clsWeighted) };
            L2SpTerm.AddIfEnabled(ctx, terms);
            var accuracy = LossTerms.MixedAccuracy(student.Logits, labels, lam, permutation);
            clock.Mark(StepStages.Accuracy);
            return LossTerms.Finish(terms, accuracy);
        }
        finally
        {
            scope.Dispose();
            clock.Mark(StepStages.Sum);
        }
    }

    /// <summary>Adds the time since the previous mark to a stage.</summary>
    private sealed class StageClock(double[]? stageMs)
    {
        private long last = Stopwatch.GetTimestamp();

        public void Mark(int stage)
        {
            long now = Stopwatch.GetTimestamp();
            if (stageMs is not null) stageMs[stage] += (now - last) * 1000.0 / Stopwatch.Frequency;
            last = now;
        }
    }
}

/// <summary>
/// The SMILE step of `smile bench train` made to be profiled: a 200-class student with a 1000-class aux head, a
/// frozen 1000-class teacher, Nesterov SGD (lr 0.01), random images in a float buffer, the default
/// <see cref="RegularizerOptions"/>.
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
        context = new TrainingContext(student, teacher, new RegularizerOptions());
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

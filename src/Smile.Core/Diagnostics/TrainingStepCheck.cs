using System.Diagnostics;
using Smile.Models;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Diagnostics;

/// <summary>The result of <see cref="TrainingStepCheck.Run"/>: the loss after each step and the time each took, and for a
/// ResNet the time of one inference forward the way evaluation and SMILE's teacher run it (null for other families).</summary>
public sealed record TrainingStepReport(string Arch, int BatchSize, int ImageSize, IReadOnlyList<double> Losses, IReadOnlyList<double> Seconds)
{
    public double? InferenceSeconds { get; init; }

    /// <summary>How that inference forward ran ("BatchNorm folded, NCHW").</summary>
    public string? InferencePath { get; init; }

    /// <summary>The batches' memory layout: "NCHW" or "channels-last".</summary>
    public string Layout { get; init; } = "NCHW";
}

/// <summary>
/// Full SMILE training steps (the engine's <see cref="TrainingStep"/>: student and teacher forward, backward,
/// Nesterov SGD, mean teacher) of a model on random data. A native crash in
/// a convolution's backward (oneDNN on CPUs whose VM hides cache sizes) kills the process, so callers
/// run this in a child process (`smile selftest`) to turn a signal into a report.
/// </summary>
public static class TrainingStepCheck
{
    public static TrainingStepReport Run(string arch, int batchSize, int imageSize, int steps, Device? device = null, int seed = 0, MixedPrecision? precision = null,
        bool channelsLast = false)
    {
        if (batchSize < 2) throw new ModelConfigException($"batch size must be at least 2 for BatchNorm in train mode (got {batchSize})");
        if (imageSize < 32) throw new ModelConfigException($"image size must be at least 32 (got {imageSize})");
        if (steps < 1) throw new ModelConfigException($"steps must be at least 1 (got {steps})");
        device ??= CPU;
        string layout = channelsLast ? "channels-last" : "NCHW";
        torch.random.manual_seed(seed);
        // The SMILE step of a real run (the engine's own TrainingStep): a frozen source teacher, a student with an aux
        // head, mixup, the folded teacher forward, Nesterov SGD, and the mean teacher at step 0.
        using var teacher = ModelFactory.Create(arch, numClasses: 1000);
        teacher.to(device).eval();
        foreach (var p in teacher.parameters()) p.requires_grad = false;
        using var model = ModelFactory.Create(arch, numClasses: 10, auxClasses: 1000);
        model.to(device).train();
        using var method = new SmileRegularizer();
        using var context = new TrainingContext(model, teacher, new LossOptions()) { Precision = precision ?? MixedPrecision.Fp32, ChannelsLast = channelsLast };
        using var optimizer = new NesterovSgd(model.named_parameters().Select(p => (p.name, p.parameter, true)), 0.01);
        var losses = new List<double>();
        var seconds = new List<double>();
        var random = new Random(seed);
        for (int i = 0; i < steps; i++)
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            var x = Batch(batchSize, imageSize, device, channelsLast);
            var y = randint(0, 10, batchSize, device: device);
            var result = TrainingStep.Run(context, method, optimizer, new StepBatch(x, y), method.DrawMix(random, batchSize), i);
            losses.Add(result.Loss);
            seconds.Add(clock.Elapsed.TotalSeconds);
        }
        double? inference = null;
        string? path = null;
        if (model is ResNet resnet)
        {
            // The evaluator's and the SMILE teacher's forward: on CPU it reaches other oneDNN primitives than training does.
            // Folding computes eval-mode arithmetic whatever the module's mode, so the model stays as it is.
            using var scope = NewDisposeScope();
            using var folded = new FoldedResNet(resnet, channelsLast);
            using var autocast = context.Precision.Enter(context.Device);
            var clock = Stopwatch.StartNew();
            folded.Forward(Batch(batchSize, imageSize, device, channelsLast));
            inference = clock.Elapsed.TotalSeconds;
            path = $"BatchNorm folded, {layout}";
        }
        return new TrainingStepReport(ModelFactory.CanonicalName(arch), batchSize, imageSize, losses, seconds) { InferenceSeconds = inference, InferencePath = path, Layout = layout };
    }

    // Random images in the layout of a run's batches (`channelsLast`: as FinetuneStrategy lays them out).
    private static Tensor Batch(int batchSize, int imageSize, Device device, bool channelsLast)
    {
        var x = randn(batchSize, 3, imageSize, imageSize, device: device);
        if (!channelsLast) return x;
        using (x) return CudaSpeed.ToChannelsLast(x);
    }
}

using System.Diagnostics;
using Smile.Data;
using Smile.Models;
using Smile.Training;
using static TorchSharp.torch;

namespace Smile.Evaluation;

/// <summary>Eval-mode forward over a whole folder, without autograd. A ResNet runs with its BatchNorms folded into
/// its convolutions (<see cref="FoldedResNet"/>: the same outputs up to float rounding, about one pass per activation fewer),
/// folded once per evaluation since the weights do not change during one. An image that cannot be read is left out
/// and listed in <see cref="EvalResult.Skipped"/>: the loader must skip (<see cref="UnreadableImagePolicy.Skip"/>),
/// not replace, or another image would be counted twice. Under mixed precision (<see cref="MixedPrecision"/>) the forward
/// runs in LibTorch's autocast; the logits leave it in fp32 (<see cref="ClassifierOutput.LeavingScope"/>), so softmax and
/// every metric are computed in fp32. With <c>channelsLast</c> the batches and the folded weights have NHWC strides
/// (the callers turn it on where <see cref="CudaSpeed"/> does: on CUDA by default). With <c>graphs</c> (CUDA's, from
/// <see cref="CudaSpeed.GraphBackend"/>) the forward is replayed from a graph per batch shape (<see cref="ForwardGraphs"/>).</summary>
public static class Evaluator
{
    public static EvalResult Evaluate(ImageClassifier model, BatchLoader loader, Device device, IProgress<int>? progress = null, CancellationToken cancel = default,
        MixedPrecision? precision = null, bool channelsLast = false, EvalReplay? graphs = null) =>
        Run(model, loader, device, null, progress, cancel, precision, channelsLast, graphs);

    /// <summary>As <see cref="Evaluate"/> (same figures), and also the logits, labels and image files it saw, for
    /// calibration and per-class figures.</summary>
    public static (EvalResult Result, EvalOutputs Outputs) EvaluateWithOutputs(ImageClassifier model, BatchLoader loader, Device device,
        IProgress<int>? progress = null, CancellationToken cancel = default, MixedPrecision? precision = null, bool channelsLast = false, EvalReplay? graphs = null)
    {
        var sink = new OutputSink(loader.Data);
        var result = Run(model, loader, device, sink, progress, cancel, precision, channelsLast, graphs);
        return (result, sink.ToOutputs());
    }

    private static EvalResult Run(ImageClassifier model, BatchLoader loader, Device device, OutputSink? sink, IProgress<int>? progress, CancellationToken cancel,
        MixedPrecision? precision, bool channelsLast, EvalReplay? graphs)
    {
        if (loader.Options.Unreadable != UnreadableImagePolicy.Skip && !loader.Options.StrictImages)
            throw new ArgumentException("an evaluation loader must skip unreadable images (a replacement would be counted twice)", nameof(loader));
        var clock = Stopwatch.StartNew();
        var metrics = new MetricAccumulator();
        var skipped = new List<SkippedImage>();
        bool wasTraining = model.training;
        model.eval();
        using var folded = model is ResNet resnet ? new FoldedResNet(resnet, channelsLast) : null;
        using var replayed = graphs is null ? null : new ForwardGraphs(x => folded?.Forward(x) ?? model.call(x), graphs);
        try
        {
            using var noGrad = no_grad();
            int done = 0;
            foreach (var batch in DevicePrefetcher.For(loader.Batches(cancel: cancel), device))
            {
                using var scope = NewDisposeScope();
                using (batch)
                {
                    skipped.AddRange(batch.Skipped);
                    if (batch.Count > 0)
                    {
                        var images = batch.Images.to(device);
                        if (channelsLast) images = CudaSpeed.ToChannelsLast(images);
                        ClassifierOutput output;
                        using (precision?.Enter(device))
                            output = replayed?.Forward(images) ?? folded?.Forward(images) ?? model.call(images);
                        metrics.Add(output.Logits, batch.Labels);
                        sink?.Add(output.Logits, batch.Labels, batch.Indices);
                        done += batch.Count;
                    }
                }
                Smile.Native.NativeGarbage.Release();
                progress?.Report(done + skipped.Count);
            }
            if (done == 0 && skipped.Count > 0)
                throw new DataException($"none of the {skipped.Count} images could be read (the first: {skipped[0].Reason})");
        }
        finally
        {
            model.train(wasTraining);
        }
        return metrics.Result(clock.Elapsed.TotalSeconds) with { Skipped = skipped };
    }

    /// <summary>Copies each batch's logits (float32, CPU) and labels out of the tensors, and its images' files, in order.</summary>
    private sealed class OutputSink(ImageFolder folder)
    {
        private readonly List<float> logits = new();
        private readonly List<int> labels = new();
        private readonly List<string> paths = new();
        private int classes = -1;

        public void Add(Tensor batchLogits, Tensor batchLabels, IReadOnlyList<int> indices)
        {
            using var scope = NewDisposeScope();
            var z = batchLogits.detach().to(float32).cpu().contiguous();
            int k = (int)z.shape[1];
            if (classes >= 0 && classes != k) throw new InvalidOperationException($"batches with {classes} and {k} logits");
            classes = k;
            logits.AddRange(z.data<float>().ToArray());
            labels.AddRange(batchLabels.cpu().to(int64).data<long>().ToArray().Select(y => (int)y));
            paths.AddRange(indices.Select(i => folder.Samples[i].Path));
        }

        public EvalOutputs ToOutputs() => new(logits.ToArray(), labels.ToArray(), Math.Max(classes, 1), paths.ToArray());
    }
}

using Smile.Data;
using Smile.Models;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Evaluation;

/// <summary>A model rebuilt from a Smile checkpoint, with the classes and transform it was trained with.</summary>
public sealed class TrainedModel : IDisposable
{
    public ImageClassifier Model { get; }
    public CheckpointInfo Info { get; }
    public TransformSpec Transform { get; }

    private TrainedModel(ImageClassifier model, CheckpointInfo info)
    {
        Model = model;
        Info = info;
        Transform = TransformSpec.ForEvaluation(info.ImageSize, new Normalization(info.Mean, info.Std));
    }

    /// <summary>Loads a checkpoint (strictly); <paramref name="expectedArch"/>, when given, must match the checkpoint's.</summary>
    public static TrainedModel Load(string path, Device device, string? expectedArch = null)
    {
        var info = Checkpoint.ReadInfo(path);
        if (expectedArch is not null && !string.Equals(ModelFactory.CanonicalName(expectedArch), info.Architecture, StringComparison.Ordinal))
            throw new WeightFileException(path, $"`model_arch` {expectedArch} does not match the checkpoint's {info.Architecture}");
        var model = ModelFactory.Create(info.Architecture, info.Classes.Count, info.AuxClasses);
        try
        {
            ClassifierWeights.LoadInto(model, path);
            model.to(device).eval();
            return new TrainedModel(model, info);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public void Dispose() => Model.Dispose();
}

/// <summary>One image's top-k classes and probabilities.</summary>
public sealed record Prediction(string Path, IReadOnlyList<(string Class, double Probability)> Top);

public static class Predictor
{
    /// <summary>Predicts every image (decoded and transformed as at evaluation), <paramref name="batchSize"/> at a time;
    /// the probabilities are softmax(logits / <paramref name="temperature"/>) (1: the network's own). An image that
    /// cannot be decoded is handed to <paramref name="onUnreadable"/> and left out, or, when that is null, stops the
    /// enumeration with its <see cref="DataException"/>. Under mixed precision the forward runs in autocast and the
    /// logits leave it in fp32, so the softmax is computed in fp32.</summary>
    public static IEnumerable<Prediction> Predict(TrainedModel trained, IReadOnlyList<string> paths, int topK, int batchSize, Device device,
        double temperature = 1.0, Action<SkippedImage>? onUnreadable = null, Smile.Training.MixedPrecision? precision = null)
    {
        if (!(temperature > 0) || double.IsInfinity(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), "must be a positive finite number");
        int k = Math.Clamp(topK, 1, trained.Info.Classes.Count);
        var spec = trained.Transform;
        for (int start = 0; start < paths.Count; start += batchSize)
        {
            var chunk = paths.Skip(start).Take(batchSize).ToArray();
            var buffer = new float[chunk.Length * spec.ElementCount];
            var failures = new DataException?[chunk.Length];
            Parallel.For(0, chunk.Length, i =>
            {
                try
                {
                    var image = ImageDecoder.Decode(chunk[i], spec.ResizeSize, spec.ResizeSize);
                    ImageTransform.Apply(image, spec, Augmentation.Center(spec), buffer.AsSpan(i * spec.ElementCount, spec.ElementCount));
                }
                catch (DataException e) { failures[i] = e; }
            });
            // Reported in input order, whatever order the threads failed in.
            for (int i = 0; i < chunk.Length; i++)
                if (failures[i] is { } failure)
                {
                    if (onUnreadable is null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
                    onUnreadable!(new SkippedImage(chunk[i], failure.Message));
                }
            var readable = Enumerable.Range(0, chunk.Length).Where(i => failures[i] is null).ToArray();
            if (readable.Length == 0) continue;
            if (readable.Length < chunk.Length)
                for (int j = 0; j < readable.Length; j++) // close up the rows of the images left out
                    buffer.AsSpan(readable[j] * spec.ElementCount, spec.ElementCount).CopyTo(buffer.AsSpan(j * spec.ElementCount, spec.ElementCount));
            float[] v;
            long[] ix;
            // The scope closes before anything is yielded: a dispose scope must not span the caller's code.
            using (no_grad())
            using (var scope = NewDisposeScope())
            {
                var pixels = readable.Length == chunk.Length ? buffer : buffer[..(readable.Length * spec.ElementCount)];
                var images = tensor(pixels, new long[] { readable.Length, 3, spec.CropSize, spec.CropSize }, device: CPU).to(device);
                Tensor logits;
                using (precision?.Enter(device))
                    logits = trained.Model.call(images).Logits;
                var probabilities = logits.DividedBy(temperature).softmax(1).cpu();
                var (values, indexes) = probabilities.topk(k, dim: 1);
                v = values.data<float>().ToArray();
                ix = indexes.data<long>().ToArray();
            }
            for (int j = 0; j < readable.Length; j++)
                yield return new Prediction(chunk[readable[j]], Enumerable.Range(0, k).Select(r => (trained.Info.Classes[(int)ix[j * k + r]], (double)v[j * k + r])).ToArray());
        }
    }
}

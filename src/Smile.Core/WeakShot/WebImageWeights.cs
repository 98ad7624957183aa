using Serilog;
using Smile.Data;
using Smile.Training;
using static TorchSharp.torch;

namespace Smile.WeakShot;

/// <summary>The weights of one class and the figures a user checks them by. <see cref="MeanSimilarity"/> is the
/// mean of the class's S before normalisation: near 1 the SimNet finds every pair alike, near 0 none, and weights
/// normalised to mean 1 hide that, so it is reported beside them.</summary>
public sealed record ClassWeights(string Class, IReadOnlyList<SampleWeight> Images, double MeanSimilarity)
{
    public double Min => Images.Min(i => i.Weight);
    public double Max => Images.Max(i => i.Weight);
}

/// <summary>
/// SimTrans's step 2 (docs/METHODS.md, "Sample weights"): every web image through the SimNet's backbone
/// with the test transform (eval mode, no gradient), then per class the similarity matrix S over its images
/// (diagonal included) and each image's weight by <see cref="SampleWeights"/>. The pooled features of all
/// images are computed once; S is scored in row chunks, so a class of any size fits in memory. Under mixed
/// precision only the backbone runs in autocast: its features are kept in fp32 and S is scored in fp32.
/// </summary>
public static class WebImageWeights
{
    public static IReadOnlyList<ClassWeights> Compute(SimNet net, SimNetInfo info, ImageFolder web, SampleWeightMode mode, Device device,
        int batchSize = 64, int workers = 0, ILogger? log = null, IProgress<int>? progress = null, CancellationToken cancel = default,
        MixedPrecision? precision = null)
    {
        ArgumentNullException.ThrowIfNull(net);
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(web);
        var transform = TransformSpec.ForEvaluation(info.ImageSize, new Normalization(info.Mean, info.Std));
        // Replace, not skip: the features are indexed by sample, so every sample needs a row.
        var loader = new BatchLoader(web, transform, new LoaderOptions(batchSize, workers, Seed: 0, Shuffle: false, DropLast: false,
            OnUnreadable: UnreadableImagePolicy.Replace), log);
        net.eval();
        using var scope = NewDisposeScope();
        var features = PooledFeatures(net, loader, device, progress, cancel, precision);
        var result = new List<ClassWeights>();
        for (int label = 0; label < web.Classes.Count; label++)
        {
            var members = Enumerable.Range(0, web.Samples.Count).Where(i => web.Samples[i].Label == label).ToArray();
            if (members.Length == 0) continue;
            using var classScope = NewDisposeScope();
            var f = features.index_select(0, tensor(members.Select(i => (long)i).ToArray(), device: features.device));
            var similarity = ToMatrix(net.Similarity(f, f));
            var weights = SampleWeights.Compute(similarity, mode);
            result.Add(new ClassWeights(web.Classes[label],
                members.Select((sample, k) => new SampleWeight(web.Samples[sample].Path, web.Classes[label], weights[k])).ToArray(),
                similarity.Cast<double>().Average()));
        }
        return result;
    }

    /// <summary>Pooled features of every sample, in the folder's order (N x D on the device).</summary>
    private static Tensor PooledFeatures(SimNet net, BatchLoader loader, Device device, IProgress<int>? progress, CancellationToken cancel,
        MixedPrecision? precision)
    {
        var parts = new List<Tensor>();
        int done = 0;
        using (no_grad())
        {
            foreach (var batch in loader.Batches(cancel: cancel))
            {
                using (batch)
                {
                    Tensor pooled;
                    using (precision?.Enter(device))
                        pooled = net.PooledFeatures(batch.Images.to(device));
                    parts.Add(pooled.dtype == ScalarType.Float32 ? pooled : pooled.to(ScalarType.Float32));
                }
                Smile.Native.NativeGarbage.Release();
                done += batch.Count;
                progress?.Report(done);
            }
        }
        return cat(parts, 0);
    }

    private static double[,] ToMatrix(Tensor s)
    {
        int m = (int)s.shape[0], n = (int)s.shape[1];
        var values = s.to(ScalarType.Float64).cpu().data<double>().ToArray();
        var matrix = new double[m, n];
        Buffer.BlockCopy(values, 0, matrix, 0, values.Length * sizeof(double));
        return matrix;
    }
}

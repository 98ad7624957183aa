using System.Diagnostics;
using Smile.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.WeakShot;

/// <summary>
/// The held-out pair metric of `train-simnet` (docs/METHODS.md, "SimNet": F1 of "similar" on held-out pairs), defined so
/// that every epoch scores the same pairs:
/// <list type="bullet">
/// <item>batches: ceil(n / batch_size) batches of the validation images drawn by the training sampler
///   (<see cref="PairSampler"/>, same classes per batch and batch size) with a seed fixed for the run, so
///   every held-out image is used about once and the pairs are as class-balanced as in training (about 7%
///   positive at the paper's sizes, where all pairs of 150 classes would be under 1%);</item>
/// <item>pairs: all ordered pairs (a, b) within a batch of two different images (self-pairs and repeats of an
///   image are left out, see <see cref="PairMetrics.Count"/>), images with the evaluation transform and the
///   SimNet in eval mode, so BatchNorm uses running statistics and the scores do not depend on the batching;</item>
/// <item>"similar" predicted when S_ab > 0.5; precision, recall and F1 of "similar" over all counted pairs;
///   the loss is the training loss (2-way CE over all B² pairs of a batch) averaged over the batches.</item>
/// </list>
/// The authors score 10 batches of 10 classes x 10 images, self-pairs included, on the test set; Smile scores
/// held-out base images and says so.
/// </summary>
public sealed class SimNetValidation
{
    private const long SeedSalt = 0x7A1DA7E;
    private readonly BatchLoader loader;
    private readonly int[][] batches;

    public int Images { get; }
    public int Batches => batches.Length;

    public SimNetValidation(ImageFolder data, TransformSpec evalTransform, int classesPerBatch, int batchSize, int seed, int workers, bool strictImages,
        Serilog.ILogger? log = null)
    {
        if (!data.Samples.Any()) throw new DataException($"{data.Root}: no validation images");
        Images = data.Samples.Count;
        // An unreadable held-out image is left out of its batch (a replacement would score another image's pairs in its place).
        loader = new BatchLoader(data, evalTransform, new LoaderOptions(batchSize, workers, seed, Shuffle: false, DropLast: false, StrictImages: strictImages,
            OnUnreadable: UnreadableImagePolicy.Skip), log);
        var sampler = new PairSampler(data.Samples.Select(s => s.Label).ToArray(), classesPerBatch, batchSize, SampleRandom.Seed(seed, SeedSalt));
        batches = Enumerable.Range(0, (Images + batchSize - 1) / batchSize).Select(_ => sampler.Next()).ToArray();
    }

    /// <summary>Scores the held-out pairs; the network's mode is restored afterwards.</summary>
    public PairValidationResult Evaluate(SimNet net, Device device, IProgress<int>? progress = null, CancellationToken cancel = default,
        Training.MixedPrecision? precision = null)
    {
        var clock = Stopwatch.StartNew();
        bool wasTraining = net.training;
        net.eval();
        try
        {
            var counts = new PairCounts();
            double loss = 0;
            int done = 0, scored = 0;
            foreach (var indices in batches)
            {
                cancel.ThrowIfCancellationRequested();
                using var batch = loader.Build(indices, epoch: 0, cancel);
                done += batch.Skipped.Count;
                if (batch.Count == 0)
                {
                    progress?.Report(done);
                    continue;
                }
                scored++;
                using (no_grad())
                using (var scope = NewDisposeScope())
                {
                    var labels = batch.Labels.to(device);
                    Tensor logits;
                    using (precision?.Enter(device)) // the run's precision for the forward; the loss and metrics in fp32
                        logits = net.call(batch.Images.to(device)).PairLogits;
                    logits = logits.to(ScalarType.Float32);
                    loss += PairHead.PairLoss(logits, labels).item<float>();
                    counts += PairMetrics.Count(logits, labels, batch.Indices);
                }
                progress?.Report(done += batch.Count);
            }
            if (scored == 0) throw new DataException("none of the held-out images could be read");
            return new PairValidationResult(loss / scored, counts, clock.Elapsed.TotalSeconds);
        }
        finally
        {
            if (wasTraining) net.train();
        }
    }
}

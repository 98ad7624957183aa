using TorchSharp;
using static TorchSharp.torch;

namespace Smile.WeakShot;

/// <summary>
/// The confusion counts of "similar" (same class) on a set of pairs. Precision, recall and F1 of the
/// positive class; each is 0 when its denominator is (no predicted or no actual positives), so a SimNet that
/// never says "same" scores F1 0 rather than NaN.
/// </summary>
public readonly record struct PairCounts(long TruePositives, long FalsePositives, long FalseNegatives, long TrueNegatives)
{
    public long Pairs => TruePositives + FalsePositives + FalseNegatives + TrueNegatives;
    public long Positives => TruePositives + FalseNegatives;
    public double Precision => Ratio(TruePositives, TruePositives + FalsePositives);
    public double Recall => Ratio(TruePositives, TruePositives + FalseNegatives);
    public double F1 => Precision + Recall > 0 ? 2 * Precision * Recall / (Precision + Recall) : 0;

    public static PairCounts operator +(PairCounts a, PairCounts b) =>
        new(a.TruePositives + b.TruePositives, a.FalsePositives + b.FalsePositives, a.FalseNegatives + b.FalseNegatives, a.TrueNegatives + b.TrueNegatives);

    private static double Ratio(long part, long whole) => whole > 0 ? (double)part / whole : 0;
}

public static class PairMetrics
{
    /// <summary>
    /// Counts the ordered pairs (a, b) of a batch of B images, predicted "similar" when S_ab > 0.5, against
    /// "same label". <paramref name="imageIds"/> (the dataset index of each slot) leaves out the pairs of an image
    /// with itself, the diagonal and repeats of an image within the batch: they are trivially similar and say
    /// nothing about transfer.
    /// </summary>
    /// <param name="pairLogits">B² x 2, row a*B + b (as <see cref="PairHead"/> returns them).</param>
    /// <param name="labels">B class labels.</param>
    public static PairCounts Count(Tensor pairLogits, Tensor labels, IReadOnlyList<int> imageIds)
    {
        long b = labels.shape[0];
        if (pairLogits.shape[0] != b * b || imageIds.Count != b)
            throw new ArgumentException($"{b} labels and {imageIds.Count} image ids need {b * b} pair rows, got {pairLogits.shape[0]}");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using Scalar half = 0.5;
        var predicted = PairHead.Similarity(pairLogits.detach(), b).gt(half).cpu();
        var actual = labels.unsqueeze(1).eq(labels.unsqueeze(0)).cpu();
        var ids = tensor(imageIds.Select(i => (long)i).ToArray());
        var distinct = ids.unsqueeze(1).ne(ids.unsqueeze(0));
        long Sum(Tensor mask) => mask.logical_and(distinct).sum().item<long>();
        return new PairCounts(
            Sum(predicted.logical_and(actual)),
            Sum(predicted.logical_and(actual.logical_not())),
            Sum(predicted.logical_not().logical_and(actual)),
            Sum(predicted.logical_not().logical_and(actual.logical_not())));
    }
}

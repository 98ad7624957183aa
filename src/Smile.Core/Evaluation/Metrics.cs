using static TorchSharp.torch;

namespace Smile.Evaluation;

/// <summary>Evaluation figures over a whole set (not averaged per batch, unlike the reference's validate()).</summary>
public sealed record EvalResult(int Count, double Loss, double Top1, double Top5, double Ece, double Seconds)
{
    /// <summary>Images of the set that could not be read: left out of <see cref="Count"/> and of every figure.</summary>
    public IReadOnlyList<Smile.Data.SkippedImage> Skipped { get; init; } = Array.Empty<Smile.Data.SkippedImage>();

    // Written out so that two results listing the same skipped images are equal (a record compares a list by reference).
    public bool Equals(EvalResult? other) => other is not null && Count == other.Count && Loss.Equals(other.Loss) && Top1.Equals(other.Top1)
        && Top5.Equals(other.Top5) && Ece.Equals(other.Ece) && Seconds.Equals(other.Seconds) && Skipped.SequenceEqual(other.Skipped);

    public override int GetHashCode() => HashCode.Combine(Count, Loss, Top1, Top5, Ece, Seconds, Skipped.Count);

    /// <summary>The negative log-likelihood: the mean cross-entropy, which is what <see cref="Loss"/> is.</summary>
    public double Nll => Loss;
}

/// <summary>Accumulates top-1/top-5 accuracy, mean cross-entropy and expected calibration error over batches.</summary>
public sealed class MetricAccumulator(int eceBins = 15)
{
    private readonly double[] binConfidence = new double[eceBins];
    private readonly double[] binCorrect = new double[eceBins];
    private readonly long[] binCount = new long[eceBins];
    private double lossSum;
    private long top1, top5, count;

    public void Add(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var logProbs = logits.detach().to(float32).cpu().log_softmax(1);
        var y = labels.cpu().to(int64);
        lossSum += -logProbs.gather(1, y.unsqueeze(1)).sum().item<float>();
        int k = (int)Math.Min(5, logProbs.shape[1]);
        var topk = logProbs.topk(k, dim: 1).indexes;
        var hits = topk.eq(y.unsqueeze(1));
        top1 += hits[.., 0].sum().item<long>();
        top5 += hits.any(1).sum().item<long>();
        var (confidence, predicted) = logProbs.exp().max(1);
        var correct = predicted.eq(y).to(float64).data<double>().ToArray();
        var conf = confidence.to(float64).data<double>().ToArray();
        for (int i = 0; i < conf.Length; i++)
        {
            // Bins (b/B, (b+1)/B]; a confidence of exactly 0 cannot occur for a softmax.
            int bin = Math.Clamp((int)Math.Ceiling(conf[i] * binCount.Length) - 1, 0, binCount.Length - 1);
            binConfidence[bin] += conf[i];
            binCorrect[bin] += correct[i];
            binCount[bin]++;
        }
        count += conf.Length;
    }

    public EvalResult Result(double seconds)
    {
        if (count == 0) return new EvalResult(0, double.NaN, double.NaN, double.NaN, double.NaN, seconds);
        double ece = 0;
        for (int b = 0; b < binCount.Length; b++)
            if (binCount[b] > 0)
                ece += Math.Abs(binCorrect[b] - binConfidence[b]) / count;
        return new EvalResult((int)count, lossSum / count, (double)top1 / count, (double)top5 / count, ece, seconds);
    }
}

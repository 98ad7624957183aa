namespace Smile.Evaluation;

/// <summary>The calibration figures of one set of probabilities (docs/METHODS.md, "Calibration metrics").</summary>
public sealed record CalibrationReport(
    int Count, int Bins, double Accuracy, double Nll, double Ece, double Mce, double AdaptiveEce, double ClasswiseEce, double Brier);

/// <summary>
/// Accuracy, NLL, ECE, MCE, adaptive ECE, class-wise ECE and the multi-class Brier score of probabilities
/// p (N x K row-major, rows summing to 1) against labels y, all in double precision.
/// <para>Conventions, fixed here because the papers leave them open:</para>
/// <list type="bullet">
/// <item>The predicted class is the first index of the row's maximum (ties go to the lower class).</item>
/// <item>Equal-width bins: B bins on [0, 1]; a value c is in bin b (0-based) when b/B &lt; c &lt;= (b+1)/B,
/// the edges b/B being the doubles nearest to them. So an edge value belongs to the bin below it (0.6 with
/// B = 5 is in bin 2, (0.4, 0.6]), 1 is in the last bin, and 0 (possible for class-wise ECE) is in bin 0.
/// This is Guo et al.'s temperature-scaling code's (lower, upper] convention.</item>
/// <item>ECE = Σ_b |B_b|/N · |acc(B_b) − conf(B_b)| over the top-label confidence c_i = max_k p_ik;
/// MCE = the largest |acc − conf| over non-empty bins.</item>
/// <item>Adaptive ECE: the ECE formula with equal-mass bins of the top-label confidence: samples sorted by
/// confidence (stably, ties in input order), bin b holding sorted positions ⌊bN/B⌋ .. ⌊(b+1)N/B⌋ − 1;
/// bins left empty (N &lt; B) are skipped. Top-label only, not Nixon et al.'s class-averaged ACE.</item>
/// <item>Class-wise ECE (Kull et al. 2019): for each class k, the equal-width ECE of p_ik against
/// 1[y_i = k] over all N samples; then the mean over the K classes.</item>
/// <item>NLL: mean of −ln p_iy with p clipped to [1e-15, 1 − 1e-15]. Brier: mean over samples of
/// Σ_k (p_ik − 1[y_i = k])², so it lies in [0, 2] (twice the binary Brier score when K = 2).</item>
/// </list>
/// </summary>
public static class CalibrationMetrics
{
    public const int DefaultBins = 15;
    public const double ClipEpsilon = 1e-15;

    public static CalibrationReport Compute(double[] p, int[] y, int classes, int bins = DefaultBins)
    {
        var (confidence, correct) = TopLabel(p, y, classes);
        var gaps = EqualWidth(confidence, correct, bins);
        return new CalibrationReport(y.Length, bins, correct.Average(), Nll(p, y, classes), Weighted(gaps, y.Length), Largest(gaps),
            Weighted(EqualMass(confidence, correct, bins), y.Length), ClasswiseEce(p, y, classes, bins), Brier(p, y, classes));
    }

    public static double Accuracy(double[] p, int[] y, int classes) => TopLabel(p, y, classes).Correct.Average();

    public static double Nll(double[] p, int[] y, int classes)
    {
        Check(p, y, classes);
        double sum = 0;
        for (int i = 0; i < y.Length; i++) sum -= Math.Log(Math.Clamp(p[i * classes + y[i]], ClipEpsilon, 1 - ClipEpsilon));
        return sum / y.Length;
    }

    public static double Ece(double[] p, int[] y, int classes, int bins = DefaultBins)
    {
        var (confidence, correct) = TopLabel(p, y, classes);
        return Weighted(EqualWidth(confidence, correct, bins), y.Length);
    }

    public static double Mce(double[] p, int[] y, int classes, int bins = DefaultBins)
    {
        var (confidence, correct) = TopLabel(p, y, classes);
        return Largest(EqualWidth(confidence, correct, bins));
    }

    public static double AdaptiveEce(double[] p, int[] y, int classes, int bins = DefaultBins)
    {
        var (confidence, correct) = TopLabel(p, y, classes);
        return Weighted(EqualMass(confidence, correct, bins), y.Length);
    }

    public static double ClasswiseEce(double[] p, int[] y, int classes, int bins = DefaultBins)
    {
        Check(p, y, classes);
        double sum = 0;
        var value = new double[y.Length];
        var outcome = new double[y.Length];
        for (int k = 0; k < classes; k++)
        {
            for (int i = 0; i < y.Length; i++)
            {
                value[i] = p[i * classes + k];
                outcome[i] = y[i] == k ? 1 : 0;
            }
            sum += Weighted(EqualWidth(value, outcome, bins), y.Length);
        }
        return sum / classes;
    }

    public static double Brier(double[] p, int[] y, int classes)
    {
        Check(p, y, classes);
        double sum = 0;
        for (int i = 0; i < y.Length; i++)
            for (int k = 0; k < classes; k++)
            {
                double d = p[i * classes + k] - (y[i] == k ? 1 : 0);
                sum += d * d;
            }
        return sum / y.Length;
    }

    /// <summary>The equal-width bin (0-based) of <paramref name="value"/>: b with b/B &lt; value &lt;= (b+1)/B; 0 and below go to bin 0.</summary>
    public static int BinOf(double value, int bins)
    {
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), "at least one bin");
        int b = Math.Clamp((int)Math.Ceiling(value * bins) - 1, 0, bins - 1);
        // value * B can round across an integer; compare with the edges themselves so the convention is exact.
        if (b > 0 && value <= (double)b / bins) b--;
        else if (b < bins - 1 && value > (double)(b + 1) / bins) b++;
        return b;
    }

    /// <summary>Per bin: the number of samples and |mean outcome − mean value| (NaN when empty).</summary>
    private readonly record struct BinGap(long Count, double Gap);

    private static BinGap[] EqualWidth(double[] value, double[] outcome, int bins)
    {
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), "at least one bin");
        var sumValue = new double[bins];
        var sumOutcome = new double[bins];
        var count = new long[bins];
        for (int i = 0; i < value.Length; i++)
        {
            int b = BinOf(value[i], bins);
            sumValue[b] += value[i];
            sumOutcome[b] += outcome[i];
            count[b]++;
        }
        return Enumerable.Range(0, bins).Select(b => Gap(count[b], sumValue[b], sumOutcome[b])).ToArray();
    }

    private static BinGap[] EqualMass(double[] value, double[] outcome, int bins)
    {
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), "at least one bin");
        var order = Enumerable.Range(0, value.Length).OrderBy(i => value[i]).ToArray(); // OrderBy is stable
        long n = value.Length;
        var result = new BinGap[bins];
        for (int b = 0; b < bins; b++)
        {
            int from = (int)(b * n / bins), to = (int)((b + 1) * n / bins);
            double sumValue = 0, sumOutcome = 0;
            for (int j = from; j < to; j++)
            {
                sumValue += value[order[j]];
                sumOutcome += outcome[order[j]];
            }
            result[b] = Gap(to - from, sumValue, sumOutcome);
        }
        return result;
    }

    private static BinGap Gap(long count, double sumValue, double sumOutcome) =>
        new(count, count == 0 ? double.NaN : Math.Abs(sumOutcome / count - sumValue / count));

    private static double Weighted(BinGap[] gaps, int n) => gaps.Where(g => g.Count > 0).Sum(g => g.Count * g.Gap) / n;

    private static double Largest(BinGap[] gaps) => gaps.Where(g => g.Count > 0).Select(g => g.Gap).DefaultIfEmpty(double.NaN).Max();

    /// <summary>The top-label confidence max_k p_ik and whether its class is the label (1 or 0).</summary>
    private static (double[] Confidence, double[] Correct) TopLabel(double[] p, int[] y, int classes)
    {
        Check(p, y, classes);
        var confidence = new double[y.Length];
        var correct = new double[y.Length];
        for (int i = 0; i < y.Length; i++)
        {
            int best = 0;
            for (int k = 1; k < classes; k++)
                if (p[i * classes + k] > p[i * classes + best]) best = k;
            confidence[i] = p[i * classes + best];
            correct[i] = best == y[i] ? 1 : 0;
        }
        return (confidence, correct);
    }

    private static void Check(double[] p, int[] y, int classes)
    {
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), "at least one class");
        if (y.Length == 0) throw new ArgumentException("no samples", nameof(y));
        if (p.Length != (long)y.Length * classes) throw new ArgumentException($"{p.Length} probabilities for {y.Length} labels of {classes} classes", nameof(p));
        foreach (var label in y)
            if (label < 0 || label >= classes) throw new ArgumentOutOfRangeException(nameof(y), $"label {label} is not in [0, {classes})");
    }
}

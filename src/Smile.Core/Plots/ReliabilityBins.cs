namespace Smile.Plots;

/// <summary>
/// The calibration figures of one model over confidence bins, as an ECE computation leaves them: for each bin its
/// edges, how many images fell in it, their accuracy and their mean confidence (both 0..1; anything for an empty bin).
/// </summary>
public sealed record ReliabilityBins(string Label, double[] LowerEdges, double[] UpperEdges, long[] Counts, double[] Accuracy, double[] MeanConfidence)
{
    public int Bins => Counts.Length;

    public long Total => Counts.Sum();

    /// <summary>Expected calibration error: the count-weighted mean of |accuracy − confidence| over the bins.</summary>
    public double Ece
    {
        get
        {
            long total = Total;
            if (total == 0) return double.NaN;
            double ece = 0;
            for (int b = 0; b < Bins; b++)
                if (Counts[b] > 0) ece += (double)Counts[b] / total * Math.Abs(Accuracy[b] - MeanConfidence[b]);
            return ece;
        }
    }

    internal void Validate(string name)
    {
        int n = Counts.Length;
        if (n == 0) throw new ArgumentException($"{name}: no bins", name);
        if (LowerEdges.Length != n || UpperEdges.Length != n || Accuracy.Length != n || MeanConfidence.Length != n)
            throw new ArgumentException($"{name}: {n} counts but {LowerEdges.Length} lower edges, {UpperEdges.Length} upper edges, " +
                $"{Accuracy.Length} accuracies and {MeanConfidence.Length} mean confidences", name);
        for (int b = 0; b < n; b++)
        {
            if (Counts[b] < 0) throw new ArgumentException($"{name}: bin {b} has a negative count", name);
            if (!(LowerEdges[b] < UpperEdges[b])) throw new ArgumentException($"{name}: bin {b} has edges {LowerEdges[b]}..{UpperEdges[b]}", name);
            if (Counts[b] > 0 && !(InUnit(Accuracy[b]) && InUnit(MeanConfidence[b])))
                throw new ArgumentException($"{name}: bin {b} has accuracy {Accuracy[b]} and confidence {MeanConfidence[b]}, not within 0..1", name);
        }
    }

    private static bool InUnit(double v) => v >= 0 && v <= 1;
}

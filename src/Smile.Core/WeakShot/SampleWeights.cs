namespace Smile.WeakShot;

/// <summary>How a web image's raw weight is read off its class's similarity matrix.</summary>
public enum SampleWeightMode
{
    /// <summary>w̃_i = mean_j S_ij (the authors use it with graph regularisation).</summary>
    Avg,

    /// <summary>w̃_i = ½(mean_j S_ij + mean_j S_ji) (the first stage): S is not symmetric, this averages both orders.</summary>
    Savg,
}

/// <summary>
/// SimTrans's sample weights (docs/METHODS.md, "Sample weights"): from the SimNet similarity matrix S (n x n,
/// diagonal included) of one novel class's web images, each image's raw weight (<see cref="SampleWeightMode"/>),
/// normalised to mean 1 within the class: w_i = w̃_i / mean_k w̃_k. An image similar to most of its class
/// (probably a clean one) gets a large weight, an outlier a weight near 0.
/// </summary>
public static class SampleWeights
{
    public static double[] Compute(double[,] similarity, SampleWeightMode mode)
    {
        int n = similarity.GetLength(0);
        if (n == 0 || similarity.GetLength(1) != n)
            throw new ArgumentException($"the similarity matrix must be square and non-empty, got {n} x {similarity.GetLength(1)}", nameof(similarity));
        var raw = new double[n];
        for (int i = 0; i < n; i++)
        {
            double row = 0, column = 0;
            for (int j = 0; j < n; j++)
            {
                row += similarity[i, j];
                column += similarity[j, i];
            }
            raw[i] = mode switch
            {
                SampleWeightMode.Avg => row / n,
                SampleWeightMode.Savg => 0.5 * (row / n + column / n),
                _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown sample weight mode"),
            };
        }
        double mean = raw.Average();
        // S comes from a softmax, so the mean is 0 only when every pair was judged certainly dissimilar,
        // and then no image of the class is more trustworthy than another.
        if (!(mean > 0)) throw new ArgumentException($"the raw weights average {mean}; S must be a matrix of probabilities with some mass", nameof(similarity));
        for (int i = 0; i < n; i++) raw[i] /= mean;
        return raw;
    }
}

namespace Smile.Evaluation;

/// <summary>
/// The area under the ROC curve of a score against binary labels, as the Mann–Whitney U statistic: the share of
/// (positive, negative) pairs in which the positive scores higher, a tie counting ½. That is
/// P(s⁺ &gt; s⁻) + ½ P(s⁺ = s⁻) for a random positive and a random negative, equal to the trapezoidal area under the
/// ROC curve (what scikit-learn's <c>roc_auc_score</c> gives). 1: every positive above every negative; 0.5: no
/// better than chance (or all scores equal); 0: every positive below. Only the order of the scores matters.
/// <para>
/// A score that should be <em>low</em> for the positives is negated first. The weak-shot experiment asks how well
/// the SimTrans sample weights find the outliers among the web images:
/// <c>RocAuc.Compute(weights.Select(w =&gt; -w).ToArray(), isOutlier)</c>, 1 when every outlier is weighted below
/// every clean image.
/// </para>
/// </summary>
public static class RocAuc
{
    /// <summary>O(n log n): one sort, then a pass over the groups of equal scores. The pair counts are whole numbers
    /// and halves, exact in a double up to 2^52 pairs, so the result is one division away from the exact value.</summary>
    /// <param name="scores">Higher means "more likely positive"; ±∞ are allowed, NaN is not.</param>
    /// <param name="positive">The label of each score; both classes must occur.</param>
    public static double Compute(IReadOnlyList<double> scores, IReadOnlyList<bool> positive)
    {
        int n = scores.Count;
        if (positive.Count != n) throw new ArgumentException($"{n} scores but {positive.Count} labels", nameof(positive));
        var keys = new double[n];
        var labels = new bool[n];
        long positives = 0;
        for (int i = 0; i < n; i++)
        {
            if (double.IsNaN(scores[i])) throw new ArgumentException($"score {i} is NaN", nameof(scores));
            keys[i] = scores[i];
            labels[i] = positive[i];
            if (labels[i]) positives++;
        }
        long negatives = n - positives;
        if (positives == 0 || negatives == 0)
            throw new ArgumentException($"the ROC AUC needs both classes, but all {n} labels are {(positives == 0 ? "negative" : "positive")}", nameof(positive));

        Array.Sort(keys, labels);
        // Ascending: a positive beats every negative of a lower score and ties with those of its own score.
        double pairs = 0;
        long negativesBelow = 0;
        for (int start = 0; start < n;)
        {
            int end = start;
            long p = 0, q = 0;
            while (end < n && keys[end] == keys[start])
            {
                if (labels[end]) p++; else q++;
                end++;
            }
            pairs += p * (double)negativesBelow + 0.5 * p * q;
            negativesBelow += q;
            start = end;
        }
        return pairs / ((double)positives * negatives);
    }
}

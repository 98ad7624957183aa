using System.Text.Json;
using Smile.Evaluation;

namespace Smile.Tests.Evaluation;

public sealed class RocAucTests
{
    private static readonly Lazy<JsonElement> Reference = new(() => JsonDocument.Parse(PythonRunner.Run("roc_auc_reference.py")).RootElement);

    private static bool[] Labels(string ones) => ones.Select(c => c == '1').ToArray();

    [Fact]
    public void SeparatedScoresGiveOneReversedZeroAllTiedOneHalf()
    {
        var labels = Labels("0011");
        Assert.Equal(1.0, RocAuc.Compute([0.1, 0.2, 0.3, 0.4], labels));
        Assert.Equal(0.0, RocAuc.Compute([0.4, 0.3, 0.2, 0.1], labels));
        Assert.Equal(0.5, RocAuc.Compute([7, 7, 7, 7], labels));
    }

    [Fact]
    public void HandComputedCases()
    {
        // scikit-learn's doc example: of the 4 (positive, negative) pairs only 0.35 < 0.4 is won by the negative.
        Assert.Equal(0.75, RocAuc.Compute([0.1, 0.4, 0.35, 0.8], Labels("0011")));
        // Positives 2 and 3, negatives 1 and 2: 2 > 1, 2 = 2 (½), 3 > 1, 3 > 2: 3.5 of 4.
        Assert.Equal(0.875, RocAuc.Compute([1, 2, 2, 3], Labels("0101")));
        // Positives 0.5, 0.9; negatives 0.5, 0.5, 0.2: 0.5 ties twice (1) and beats 0.2 (1), 0.9 beats all (3): 5 of 6.
        Assert.Equal(5.0 / 6, RocAuc.Compute([0.5, 0.5, 0.5, 0.2, 0.9], Labels("10001")), 15);
        // Infinities are ordinary extremes; a positive tied with a negative at +inf counts ½.
        Assert.Equal(2.5 / 4, RocAuc.Compute([double.NegativeInfinity, double.PositiveInfinity, double.PositiveInfinity, 0], Labels("0101")));
    }

    [Fact]
    public void OnlyTheOrderOfTheScoresMatters()
    {
        var rng = new Random(7);
        var scores = Enumerable.Range(0, 300).Select(_ => Math.Round(rng.NextDouble(), 1)).ToArray(); // ties
        var labels = scores.Select(s => rng.NextDouble() < s).ToArray();
        double auc = RocAuc.Compute(scores, labels);
        Assert.Equal(auc, RocAuc.Compute(scores.Select(s => Math.Exp(3 * s) - 10).ToArray(), labels), 14);
        // Negating the score or swapping the labels mirrors the AUC.
        Assert.Equal(1 - auc, RocAuc.Compute(scores.Select(s => -s).ToArray(), labels), 14);
        Assert.Equal(1 - auc, RocAuc.Compute(scores, labels.Select(y => !y).ToArray()), 14);
    }

    [Fact]
    public void BothClassesAreNeeded()
    {
        var e = Assert.Throws<ArgumentException>(() => RocAuc.Compute([1, 2, 3], Labels("111")));
        Assert.StartsWith("the ROC AUC needs both classes, but all 3 labels are positive", e.Message);
        e = Assert.Throws<ArgumentException>(() => RocAuc.Compute([1, 2], Labels("00")));
        Assert.StartsWith("the ROC AUC needs both classes, but all 2 labels are negative", e.Message);
        Assert.Throws<ArgumentException>(() => RocAuc.Compute([], []));
        Assert.Throws<ArgumentException>(() => RocAuc.Compute([1, 2], Labels("011")));
        Assert.Throws<ArgumentException>(() => RocAuc.Compute([1, double.NaN], Labels("01")));
    }

    /// <summary>scikit-learn's roc_auc_score (python/roc_auc_reference.py) on random scores, many ties, and
    /// sample-weight-like data scored as −weight against "is outlier".</summary>
    [Theory]
    [InlineData("continuous")]
    [InlineData("ties")]
    [InlineData("weights")]
    [InlineData("small")]
    public void MatchesScikitLearn(string name)
    {
        var c = Reference.Value.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        var scores = c.GetProperty("scores").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var labels = c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32() == 1).ToArray();
        double expected = c.GetProperty("auc").GetDouble(), auc = RocAuc.Compute(scores, labels);
        Assert.True(Math.Abs(auc - expected) <= 1e-12, $"{name}: {auc} vs scikit-learn {expected}");
    }
}

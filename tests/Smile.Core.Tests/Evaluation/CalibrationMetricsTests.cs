using Smile.Evaluation;

namespace Smile.Tests.Evaluation;

/// <summary>Each calibration figure on a case small enough to compute by hand (the arithmetic is in the test).</summary>
public sealed class CalibrationMetricsTests
{
    // Four samples, three classes. Top-label confidence, prediction and outcome per sample:
    //   s1 (0.9, 0.05, 0.05) y=0: conf 0.9, predicts 0, correct
    //   s2 (0.6, 0.3,  0.1 ) y=1: conf 0.6, predicts 0, wrong     (0.6 = 3/5: an edge with 5 bins)
    //   s3 (0.2, 0.7,  0.1 ) y=1: conf 0.7, predicts 1, correct
    //   s4 (0.1, 0.1,  0.8 ) y=0: conf 0.8, predicts 2, wrong     (0.8 = 4/5: an edge with 5 bins)
    private static readonly double[] P = { 0.9, 0.05, 0.05, 0.6, 0.3, 0.1, 0.2, 0.7, 0.1, 0.1, 0.1, 0.8 };
    private static readonly int[] Y = { 0, 1, 1, 0 };
    private const int K = 3;

    [Fact]
    public void AccuracyIsTheShareOfTopLabelHits() => Assert.Equal(2.0 / 4, CalibrationMetrics.Accuracy(P, Y, K), 12);

    [Fact]
    public void NllIsTheMeanNegativeLogOfTheLabelsProbability() =>
        Assert.Equal(-(Math.Log(0.9) + Math.Log(0.3) + Math.Log(0.7) + Math.Log(0.1)) / 4, CalibrationMetrics.Nll(P, Y, K), 12);

    [Fact]
    public void NllClipsProbabilitiesToOneEMinus15()
    {
        // The label's probability is 0 in the first row (clipped up to 1e-15) and 1 in the second (clipped down to 1 - 1e-15).
        double nll = CalibrationMetrics.Nll(new[] { 0.0, 1.0, 1.0, 0.0 }, new[] { 0, 0 }, 2);
        Assert.Equal((-Math.Log(1e-15) - Math.Log(1 - 1e-15)) / 2, nll, 12);
        Assert.True(double.IsFinite(nll));
    }

    [Fact]
    public void EceWithFiveBinsPutsAnEdgeValueInTheBinBelowIt()
    {
        // Bins (0,.2] (.2,.4] (.4,.6] (.6,.8] (.8,1]:
        //   bin 2 = {s2}: acc 0, conf .6, gap .6;  bin 3 = {s3, s4}: acc .5, conf .75, gap .25;  bin 4 = {s1}: acc 1, conf .9, gap .1
        //   ECE = (1·.6 + 2·.25 + 1·.1) / 4 = 0.3.
        // (With [lower, upper) bins s2 would join s3 and s4 would join s1: ECE = (2·.15 + 2·.35) / 4 = 0.25.)
        Assert.Equal(0.3, CalibrationMetrics.Ece(P, Y, K, bins: 5), 12);
    }

    [Fact]
    public void MceIsTheLargestGapOfANonEmptyBin() => Assert.Equal(0.6, CalibrationMetrics.Mce(P, Y, K, bins: 5), 12);

    [Fact]
    public void MceIgnoresEmptyBins()
    {
        // Everything in the last of 15 bins, (14/15, 1] (conf .94 and .96, both correct): gap |1 - .95| = .05;
        // the 14 empty bins count for nothing (not, for instance, as |0 - their midpoint|).
        Assert.Equal(0.05, CalibrationMetrics.Mce(new[] { 0.94, 0.06, 0.04, 0.96 }, new[] { 0, 1 }, 2), 12);
    }

    [Theory]
    // Confidences sorted: .6 (wrong), .7 (right), .8 (wrong), .9 (right); bin b holds sorted positions ⌊bN/B⌋ .. ⌊(b+1)N/B⌋-1.
    // B = 2: {.6,.7} acc .5 conf .65 gap .15; {.8,.9} acc .5 conf .85 gap .35: (2·.15 + 2·.35)/4 = 0.25
    [InlineData(2, 0.25)]
    // B = 3: positions [0,1) [1,2) [2,4): gaps .6, .3, .35 (two samples): (.6 + .3 + 2·.35)/4 = 0.4   (ceil-split would give 0.3)
    [InlineData(3, 0.4)]
    // B = 5 > N: positions [0,0) [0,1) [1,2) [2,3) [3,4): one sample each, gaps .6 .3 .8 .1: 1.8/4 = 0.45 (the empty bin is skipped)
    [InlineData(5, 0.45)]
    public void AdaptiveEceUsesEqualMassBins(int bins, double expected) =>
        Assert.Equal(expected, CalibrationMetrics.AdaptiveEce(P, Y, K, bins), 12);

    [Fact]
    public void ClasswiseEceIsTheMeanOverClassesOfEachClasssEce()
    {
        // Five equal-width bins; each class k bins p_ik against 1[y_i = k], N = 4.
        // class 0: p = .9 .6 .2 .1, o = 1 0 0 1. bin0 {.2→0, .1→1}: |.5 - .15| = .35 (two); bin2 {.6→0}: .6; bin4 {.9→1}: .1
        //          ECE_0 = (2·.35 + .6 + .1)/4 = 0.35
        // class 1: p = .05 .3 .7 .1, o = 0 1 1 0. bin0 {.05, .1 → 0}: .075 (two); bin1 {.3→1}: .7; bin3 {.7→1}: .3
        //          ECE_1 = (2·.075 + .7 + .3)/4 = 0.2875
        // class 2: p = .05 .1 .1 .8, o = 0 0 0 0. bin0 {.05,.1,.1}: .25/3 (three); bin3 {.8 (edge of bin 3)}: .8
        //          ECE_2 = (.25 + .8)/4 = 0.2625
        // mean = (0.35 + 0.2875 + 0.2625)/3 = 0.3
        Assert.Equal(0.3, CalibrationMetrics.ClasswiseEce(P, Y, K, bins: 5), 12);
    }

    [Fact]
    public void BrierIsTheMeanSquaredDistanceToTheOneHotLabel()
    {
        // s1: .1² + .05² + .05² = .015; s2: .6² + .7² + .1² = .86; s3: .2² + .3² + .1² = .14; s4: .9² + .1² + .8² = 1.46
        Assert.Equal((0.015 + 0.86 + 0.14 + 1.46) / 4, CalibrationMetrics.Brier(P, Y, K), 12);
    }

    [Theory]
    [InlineData(0.0, 5, 0)]        // 0 (a class-wise probability) joins the first bin
    [InlineData(0.2, 5, 0)]        // an edge belongs to the bin below it
    [InlineData(0.2000001, 5, 1)]
    [InlineData(0.6, 5, 2)]
    [InlineData(0.6000001, 5, 3)]
    [InlineData(1.0, 5, 4)]
    [InlineData(1.0 / 15, 15, 0)]
    [InlineData(14.0 / 15, 15, 13)]
    [InlineData(0.5, 1, 0)]
    public void BinOfFollowsTheLowerOpenUpperClosedConvention(double value, int bins, int expected) =>
        Assert.Equal(expected, CalibrationMetrics.BinOf(value, bins));

    [Fact]
    public void EveryEdgeOfFifteenBinsFallsInTheBinBelowIt()
    {
        for (int b = 1; b <= 15; b++)
        {
            Assert.Equal(b - 1, CalibrationMetrics.BinOf((double)b / 15, 15));
            Assert.Equal(Math.Min(b, 14), CalibrationMetrics.BinOf(Math.BitIncrement((double)b / 15), 15));
        }
    }

    [Fact]
    public void ComputeGathersTheSameFigures()
    {
        var r = CalibrationMetrics.Compute(P, Y, K, bins: 5);
        Assert.Equal((4, 5), (r.Count, r.Bins));
        Assert.Equal(CalibrationMetrics.Accuracy(P, Y, K), r.Accuracy);
        Assert.Equal(CalibrationMetrics.Nll(P, Y, K), r.Nll);
        Assert.Equal(CalibrationMetrics.Ece(P, Y, K, 5), r.Ece);
        Assert.Equal(CalibrationMetrics.Mce(P, Y, K, 5), r.Mce);
        Assert.Equal(CalibrationMetrics.AdaptiveEce(P, Y, K, 5), r.AdaptiveEce);
        Assert.Equal(CalibrationMetrics.ClasswiseEce(P, Y, K, 5), r.ClasswiseEce);
        Assert.Equal(CalibrationMetrics.Brier(P, Y, K), r.Brier);
    }

    [Fact]
    public void APerfectlyConfidentCorrectModelScoresZero()
    {
        var r = CalibrationMetrics.Compute(new[] { 1.0, 0, 0, 0, 1.0, 0 }, new[] { 0, 1 }, 3);
        Assert.Equal(1, r.Accuracy);
        Assert.Equal((0.0, 0.0, 0.0, 0.0, 0.0), (r.Ece, r.Mce, r.AdaptiveEce, r.ClasswiseEce, r.Brier));
        Assert.Equal(-Math.Log(1 - 1e-15), r.Nll, 15);
    }

    [Fact]
    public void TiesPredictTheLowerClass()
    {
        // (.5, .5) with label 1 is a miss; with label 0 a hit.
        Assert.Equal(0, CalibrationMetrics.Accuracy(new[] { 0.5, 0.5 }, new[] { 1 }, 2));
        Assert.Equal(1, CalibrationMetrics.Accuracy(new[] { 0.5, 0.5 }, new[] { 0 }, 2));
    }

    [Fact]
    public void MismatchedInputsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => CalibrationMetrics.Ece(new double[5], new[] { 0, 1 }, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => CalibrationMetrics.Brier(new double[6], new[] { 0, 3 }, 3));
        Assert.Throws<ArgumentException>(() => CalibrationMetrics.Nll(Array.Empty<double>(), Array.Empty<int>(), 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => CalibrationMetrics.Ece(P, Y, K, bins: 0));
    }

    [Fact]
    public void ProbabilitiesAreTheSoftmaxOfTheLogitsOverT()
    {
        // z = (0, ln 2, ln 3): softmax = (1, 2, 3)/6; at T = 2: (1, √2, √3)/(1 + √2 + √3).
        var outputs = new EvalOutputs(new[] { 0f, (float)Math.Log(2), (float)Math.Log(3) }, new[] { 2 }, 3);
        var p1 = outputs.Probabilities();
        var p2 = outputs.Probabilities(2);
        double s = 1 + Math.Sqrt(2) + Math.Sqrt(3);
        for (int k = 0; k < 3; k++)
        {
            Assert.Equal((k + 1) / 6.0, p1[k], 6); // the logits are float32: ln 2 and ln 3 to about 1e-7
            Assert.Equal(Math.Sqrt(k + 1) / s, p2[k], 6);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => outputs.Probabilities(0));
    }

    [Fact]
    public void HugeLogitsDoNotOverflow()
    {
        var p = new EvalOutputs(new[] { 1000f, 0f, -1000f }, new[] { 0 }, 3).Probabilities(0.05);
        Assert.Equal(1.0, p[0]);
        Assert.All(p, v => Assert.True(double.IsFinite(v)));
    }
}

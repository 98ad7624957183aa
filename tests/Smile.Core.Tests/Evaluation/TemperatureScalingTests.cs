using Smile.Evaluation;

namespace Smile.Tests.Evaluation;

public sealed class TemperatureScalingTests
{
    /// <summary>n samples of a calibrated model z* (labels drawn from softmax(z*)), seen through logits T0·z*:
    /// the temperature that undoes it is T0.</summary>
    private static EvalOutputs Miscalibrated(int n, int k, double t0, int seed, double scale = 2.0)
    {
        var random = new Random(seed);
        var logits = new float[n * k];
        var labels = new int[n];
        var p = new double[k];
        for (int i = 0; i < n; i++)
        {
            double sum = 0;
            var zStar = new double[k];
            for (int j = 0; j < k; j++)
            {
                // Box-Muller: a standard normal from two uniforms.
                zStar[j] = scale * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                sum += p[j] = Math.Exp(zStar[j]);
            }
            double u = random.NextDouble() * sum;
            int y = 0;
            while (y < k - 1 && (u -= p[y]) > 0) y++;
            labels[i] = y;
            for (int j = 0; j < k; j++) logits[i * k + j] = (float)(t0 * zStar[j]);
        }
        return new EvalOutputs(logits, labels, k);
    }

    [Theory]
    [InlineData(2.5, 1)]   // over-confident logits
    [InlineData(0.5, 2)]   // under-confident logits
    [InlineData(1.0, 3)]   // already calibrated
    public void RecoversAKnownTemperature(double t0, int seed)
    {
        var outputs = Miscalibrated(20000, 5, t0, seed);
        double t = TemperatureScaling.Fit(outputs);
        // 20000 samples pin T to about 1-2%; 5% leaves room for the draw, and fails for any other T.
        Assert.True(Math.Abs(t / t0 - 1) < 0.05, $"T = {t}, expected about {t0}");
    }

    [Fact]
    public void AccuracyIsUnchangedAndNllDoesNotGetWorse()
    {
        var outputs = Miscalibrated(3000, 7, 3.0, 4);
        double t = TemperatureScaling.Fit(outputs);
        var before = CalibrationMetrics.Compute(outputs.Probabilities(), outputs.Labels, outputs.Classes);
        var after = CalibrationMetrics.Compute(outputs.Probabilities(t), outputs.Labels, outputs.Classes);
        Assert.Equal(before.Accuracy, after.Accuracy);
        Assert.True(after.Nll < before.Nll, $"NLL {before.Nll} -> {after.Nll} at T = {t}");
        Assert.True(after.Ece < before.Ece, $"ECE {before.Ece} -> {after.Ece} at T = {t}");
        // Not only the count: every sample keeps its predicted class.
        var p1 = outputs.Probabilities();
        var pt = outputs.Probabilities(t);
        for (int i = 0; i < outputs.Count; i++)
            Assert.Equal(ArgMax(p1.AsSpan(i * 7, 7)), ArgMax(pt.AsSpan(i * 7, 7)));
    }

    private static int ArgMax(ReadOnlySpan<double> row)
    {
        int best = 0;
        for (int k = 1; k < row.Length; k++) if (row[k] > row[best]) best = k;
        return best;
    }

    [Fact]
    public void TheFitIsTheMinimumOfTheNll()
    {
        // No T on a fine grid over the range beats the fitted one (by more than the search tolerance allows).
        var outputs = Miscalibrated(2000, 4, 1.7, 5);
        double t = TemperatureScaling.Fit(outputs);
        double best = TemperatureScaling.Nll(outputs, t);
        for (double u = Math.Log(TemperatureScaling.MinTemperature); u <= Math.Log(TemperatureScaling.MaxTemperature); u += 0.01)
            Assert.True(best <= TemperatureScaling.Nll(outputs, Math.Exp(u)) + 1e-9, $"T = {Math.Exp(u)} fits better than {t}");
    }

    [Fact]
    public void TheFitIsDeterministic()
    {
        var outputs = Miscalibrated(5000, 10, 2.0, 6);
        Assert.Equal(BitConverter.DoubleToInt64Bits(TemperatureScaling.Fit(outputs)), BitConverter.DoubleToInt64Bits(TemperatureScaling.Fit(outputs)));
    }

    [Fact]
    public void TheSearchStopsAtItsBounds()
    {
        // Labels = the top logit: sharper is always better, so T goes to the lower bound. Labels = the lowest
        // logit: the uniform prediction is best, so T goes to the upper bound.
        var top = Miscalibrated(500, 4, 1.0, 7);
        var topLabels = Enumerable.Range(0, top.Count).Select(i => ArgMax(Array.ConvertAll(top.Logits[(i * 4)..(i * 4 + 4)], v => (double)v))).ToArray();
        var bottomLabels = Enumerable.Range(0, top.Count).Select(i => ArgMax(Array.ConvertAll(top.Logits[(i * 4)..(i * 4 + 4)], v => -(double)v))).ToArray();
        double low = TemperatureScaling.Fit(new EvalOutputs(top.Logits, topLabels, 4));
        double high = TemperatureScaling.Fit(new EvalOutputs(top.Logits, bottomLabels, 4));
        Assert.True(Math.Abs(low / TemperatureScaling.MinTemperature - 1) < 2e-4, $"T = {low}");
        Assert.True(Math.Abs(high / TemperatureScaling.MaxTemperature - 1) < 2e-4, $"T = {high}");
    }

    [Fact]
    public void NllAtATemperatureIsTheClippedNllOfTheScaledProbabilities()
    {
        var outputs = Miscalibrated(300, 3, 1.3, 8);
        foreach (var t in new[] { 0.5, 1.0, 2.0 })
            Assert.Equal(CalibrationMetrics.Nll(outputs.Probabilities(t), outputs.Labels, 3), TemperatureScaling.Nll(outputs, t), 10);
    }
}

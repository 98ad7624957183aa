using Smile.Evaluation;
using Smile.Plots;

namespace Smile.Tests.Plots;

public sealed class EvaluationPlotsTests
{
    private static (double[] P, int[] Y) Random(int n, int k, int seed)
    {
        var rng = new System.Random(seed);
        var p = new double[n * k];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            double sum = 0;
            for (int c = 0; c < k; c++) sum += p[i * k + c] = Math.Pow(rng.NextDouble(), 3);
            for (int c = 0; c < k; c++) p[i * k + c] /= sum;
            y[i] = rng.Next(k);
        }
        return (p, y);
    }

    [Fact]
    public void TheDiagramsBinsGiveTheEceThatSmileTestPrints()
    {
        var (p, y) = Random(500, 4, 1);
        foreach (int bins in new[] { 1, 10, 15 })
        {
            var diagram = EvaluationPlots.Reliability(p, y, 4, bins, "x");
            Assert.Equal(500, diagram.Total);
            Assert.Equal(CalibrationMetrics.Ece(p, y, 4, bins), diagram.Ece, 12);
        }
    }

    [Fact]
    public void ConfusionCountsTrueClassesInRowsAndPredictionsInColumns()
    {
        double[] p = [0.7, 0.2, 0.1, /**/ 0.1, 0.8, 0.1, /**/ 0.5, 0.4, 0.1, /**/ 0.2, 0.2, 0.6];
        int[] y = [0, 1, 1, 2];
        var m = EvaluationPlots.Confusion(p, y, 3);
        Assert.Equal(new long[,] { { 1, 0, 0 }, { 1, 1, 0 }, { 0, 0, 1 } }, m);
    }
}

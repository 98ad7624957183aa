using SkiaSharp;
using Smile.Plots;

namespace Smile.Tests.Plots;

public sealed class ChartsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smile-charts-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly SKColor Before = SKColor.Parse("#1f77b4"), After = SKColor.Parse("#ff7f0e");

    /// <summary>15 bins as MetricAccumulator makes them; an over-confident model: accuracy below confidence.</summary>
    private static ReliabilityBins Bins(string label, double shortfall, int emptyBelow = 3)
    {
        const int n = 15;
        var lower = Enumerable.Range(0, n).Select(b => b / (double)n).ToArray();
        var upper = Enumerable.Range(0, n).Select(b => (b + 1) / (double)n).ToArray();
        var confidence = lower.Zip(upper, (a, b) => (a + b) / 2).ToArray();
        var counts = Enumerable.Range(0, n).Select(b => b < emptyBelow ? 0L : 10L * b * b).ToArray();
        var accuracy = confidence.Select(c => Math.Max(0, c - shortfall)).ToArray();
        return new ReliabilityBins(label, lower, upper, counts, accuracy, confidence);
    }

    [Fact]
    public void ReliabilityDiagramOfOneSeriesAndOfBeforeAndAfter()
    {
        string one = Path.Combine(_dir, "one.png"), two = Path.Combine(_dir, "two.png");
        Charts.ReliabilityDiagram(one, Bins("before", 0.1), width: 700, height: 650);
        Charts.ReliabilityDiagram(two, Bins("before", 0.1), Bins("after temperature scaling", 0.01), width: 900, height: 900);
        var single = PngCheck.Pixels(one, 700, 650);
        var both = PngCheck.Pixels(two, 900, 900);
        Assert.True(PngCheck.Near(single, Before) > 5000, "the accuracy bars are drawn");
        Assert.Equal(0, PngCheck.Near(single, After));
        Assert.True(PngCheck.Near(both, After) > 5000, "the second series is drawn");
        Assert.Equal(["one.png", "two.png"], Directory.GetFiles(_dir).Select(Path.GetFileName).Order()); // no temp file left
    }

    [Fact]
    public void EceIsTheCountWeightedGap()
    {
        var bins = new ReliabilityBins("x", [0, 0.5], [0.5, 1], [30, 10], [0.2, 0.9], [0.4, 0.7]);
        Assert.Equal(0.75 * 0.2 + 0.25 * 0.2, bins.Ece, 12);
        Assert.True(double.IsNaN(new ReliabilityBins("x", [0], [1], [0], [0], [0]).Ece));
    }

    [Fact]
    public void ReliabilityBinsOfDifferentLengthsAreRefused()
    {
        var bad = new ReliabilityBins("x", [0, 0.5], [0.5, 1], [3, 4], [0.5], [0.4, 0.7]);
        var e = Assert.Throws<ArgumentException>(() => Charts.ReliabilityDiagram(Path.Combine(_dir, "x.png"), bad));
        Assert.Contains("1 accuracies", e.Message);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Theory]
    [InlineData(4, 800, 700)]
    [InlineData(30, 1000, 1000)]
    [InlineData(196, 1200, 1100)]
    public void ConfusionMatrixOfAFewToManyClasses(int k, int width, int height)
    {
        var counts = new long[k, k];
        var random = new Random(k);
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
                counts[i, j] = i == j ? random.Next(10, 50) : random.Next(0, 5);
        counts[k - 1, 0] = 0; // a row may also be empty
        var names = Enumerable.Range(0, k).Select(i => i % 2 == 0 ? $"AM General Hummer SUV 2000 variant {i}" : $"c{i}").ToArray();
        string path = Path.Combine(_dir, "cm.png");
        Charts.ConfusionMatrix(path, counts, names, width, height);
        var pixels = PngCheck.Pixels(path, width, height);
        // The diagonal holds most of each row: the dark end of the colour map is there.
        Assert.True(pixels.Count(p => p.Blue > 80 && p.Red < 40 && p.Green < 90) > 200, "dark cells on the diagonal");
    }

    [Fact]
    public void ConfusionMatrixChecksItsShape()
    {
        Assert.Throws<ArgumentException>(() => Charts.ConfusionMatrix(Path.Combine(_dir, "x.png"), new long[2, 3], ["a", "b"]));
        Assert.Throws<ArgumentException>(() => Charts.ConfusionMatrix(Path.Combine(_dir, "x.png"), new long[2, 2], ["a"]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Charts.ConfusionMatrix(Path.Combine(_dir, "x.png"), new long[2, 2], ["a", "b"], width: 20));
    }

    [Fact]
    public void LongClassNamesKeepTheirStartAndEnd()
    {
        Assert.Equal("cat", Charts.Shorten("cat"));
        string shortened = Charts.Shorten("Audi S4 Sedan 2007 with a long trim");
        Assert.Equal(20, shortened.Length);
        Assert.Equal("Audi S4 Se…long trim", shortened);
    }

    private static (long, double)[] Series(int n, Func<int, double> f) => Enumerable.Range(0, n).Select(i => ((long)i, f(i))).ToArray();

    [Fact]
    public void TrainingCurvesOfAFullRunAndOfARunWithoutEvaluation()
    {
        var random = new Random(1);
        var full = new Dictionary<string, (long, double)[]>
        {
            ["train_loss"] = Series(1500, i => 2 * Math.Exp(-i / 400.0) + random.NextDouble() * 0.3),
            ["train_ce"] = Series(1500, i => 1.5 * Math.Exp(-i / 400.0) + random.NextDouble() * 0.2),
            ["train_acc"] = Series(1500, i => i % 5 == 0 ? double.NaN : Math.Min(1, i / 1500.0 + random.NextDouble() * 0.1)),
            ["lr"] = Series(1500, i => 0.01 * (1 + Math.Cos(Math.PI * i / 1500)) / 2),
            ["val_loss"] = Series(10, i => 2.0 / (i + 1)),
            ["val_acc"] = Series(10, i => i / 10.0),
        };
        string path = Path.Combine(_dir, "curves.png");
        Charts.TrainingCurves(path, full, "smile", 1200, 900);
        var pixels = PngCheck.Pixels(path, 1200, 900);
        Assert.True(PngCheck.Near(pixels, After) > 1000, "the second curve of a panel (train_ce, val_acc) is drawn");

        var noEval = full.Where(kv => !kv.Key.StartsWith("val_", StringComparison.Ordinal)).ToDictionary();
        Charts.TrainingCurves(path, noEval, "l2", 640, 480); // over the first: replaced whole
        PngCheck.Pixels(path, 640, 480);

        Charts.TrainingCurves(path, new Dictionary<string, (long, double)[]> { ["train_acc"] = Series(3, _ => double.NaN) }, "nothing yet", 640, 480);
        using var bitmap = SKBitmap.Decode(path);
        Assert.Equal(640, bitmap.Width); // four notes and no curve still make a picture
    }

    [Fact]
    public void SmoothingFollowsATrendWithoutLag()
    {
        var ramp = Enumerable.Range(0, 1000).Select(i => (double)i).ToArray();
        var smooth = Charts.Smooth(ramp);
        Assert.Equal(ramp.Length, smooth.Length);
        for (int i = 20; i < 980; i++) Assert.Equal(ramp[i], smooth[i], 9); // a centred average of a line is the line
        var noisy = Enumerable.Range(0, 1000).Select(i => i % 2 == 0 ? 1.0 : -1.0).ToArray();
        Assert.True(Charts.Smooth(noisy)[500..900].All(v => Math.Abs(v) < 0.1));
    }
}

using System.Globalization;
using ScottPlot;
using ScottPlot.MultiplotLayouts;

namespace Smile.Plots;

/// <summary>PNG charts for people to look at, drawn with ScottPlot from plain arrays; each written atomically.</summary>
public static partial class Charts
{
    private static readonly Color BeforeColor = Color.FromHex("#1f77b4");
    private static readonly Color AfterColor = Color.FromHex("#ff7f0e");
    private static readonly Color GapColor = Color.FromHex("#d62728");

    /// <summary>
    /// A reliability diagram: accuracy per confidence bin as bars against the diagonal of perfect calibration, the
    /// gap to each bin's mean confidence in red, the number of images per bin in a small panel below, and the ECE of
    /// each series in the title. <paramref name="after"/> is the same model after temperature scaling, drawn beside.
    /// </summary>
    public static void ReliabilityDiagram(string path, ReliabilityBins before, ReliabilityBins? after = null, int width = 900, int height = 900)
    {
        PngFile.CheckSize(width, height);
        before.Validate(nameof(before));
        after?.Validate(nameof(after));
        var series = after is null ? new[] { (before, BeforeColor) } : new[] { (before, BeforeColor), (after, AfterColor) };

        using var main = new Plot();
        using var counts = new Plot();
        PngFile.Style(main);
        PngFile.Style(counts);
        var diagonal = main.Add.Line(0, 0, 1, 1);
        diagonal.LineColor = Colors.Gray;
        diagonal.LinePattern = LinePattern.Dashed;
        diagonal.LineWidth = 1.5f;
        diagonal.LegendText = "perfect calibration";
        for (int s = 0; s < series.Length; s++)
        {
            var (bins, color) = series[s];
            var accuracy = new List<Bar>();
            var gaps = new List<Bar>();
            var sizes = new List<Bar>();
            for (int b = 0; b < bins.Bins; b++)
            {
                if (bins.Counts[b] == 0) continue; // no images: no accuracy to show
                // Side by side within the bin when there are two series.
                double binWidth = bins.UpperEdges[b] - bins.LowerEdges[b];
                double slot = binWidth / series.Length;
                double center = bins.LowerEdges[b] + slot * (s + 0.5);
                double barWidth = slot * (series.Length == 1 ? 0.9 : 0.85);
                accuracy.Add(new Bar { Position = center, Value = bins.Accuracy[b], Size = barWidth, FillColor = color, LineWidth = 0 });
                gaps.Add(new Bar { Position = center, ValueBase = bins.Accuracy[b], Value = bins.MeanConfidence[b], Size = barWidth,
                    FillColor = GapColor.WithAlpha(0.3), LineColor = GapColor, LineWidth = 1 });
                sizes.Add(new Bar { Position = center, Value = bins.Counts[b], Size = barWidth, FillColor = color, LineWidth = 0,
                    Label = bins.Counts[b].ToString(CultureInfo.InvariantCulture) });
            }
            main.Add.Bars(accuracy).LegendText = $"{bins.Label}: accuracy";
            var gapBars = main.Add.Bars(gaps);
            if (s == series.Length - 1) gapBars.LegendText = "gap to mean confidence";
            var countBars = counts.Add.Bars(sizes);
            countBars.ValueLabelStyle.FontSize = 10;
            if (sizes.Count > 0 && PixelsPerLabel(width, sizes.Count * series.Length) < 34) countBars.ValueLabelStyle.IsVisible = false; // too many to read
        }

        main.Title("Reliability diagram\n" + string.Join("\n", series.Select(x =>
            $"{x.Item1.Label}: ECE {Format(x.Item1.Ece)} ({x.Item1.Total.ToString("N0", CultureInfo.InvariantCulture)} images)")));
        main.YLabel("accuracy");
        main.Axes.SetLimits(0, 1, 0, 1);
        main.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(0.1);
        main.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(0.1);
        counts.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(0.1);
        main.ShowLegend(Alignment.UpperLeft);
        counts.XLabel("confidence");
        counts.YLabel("images");
        counts.Axes.SetLimitsX(0, 1);
        counts.Axes.SetLimitsY(0, series.Max(x => x.Item1.Counts.Max()) * 1.2 + 1);

        var figure = new Multiplot();
        figure.AddPlot(main);
        figure.AddPlot(counts);
        var grid = new CustomGrid();
        grid.Set(main, new GridCell(0, 0, 4, 1, 3, 1));
        grid.Set(counts, new GridCell(3, 0, 4, 1, 1, 1));
        figure.Layout = grid;
        AlignLeftEdges(main, counts);
        PngFile.Write(path, figure, width, height);
    }

    private static string Format(double v) => double.IsNaN(v) ? "n/a" : v.ToString("F4", CultureInfo.InvariantCulture);

    private static double PixelsPerLabel(int width, int labels) => width * 0.85 / labels;

    /// <summary>Stacked panels share the x axis: the same left margin keeps their data areas above one another.</summary>
    private static void AlignLeftEdges(params Plot[] plots)
    {
        foreach (var plot in plots) plot.Axes.Left.MinimumSize = 70;
    }
}

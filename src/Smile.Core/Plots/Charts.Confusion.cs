using System.Globalization;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace Smile.Plots;

public static partial class Charts
{
    /// <summary>Counts are printed in the cells up to this many classes; past it they would not fit.</summary>
    public const int MaxClassesWithCounts = 30;

    private const int MaxNameLength = 20;

    /// <summary>
    /// A confusion matrix as a heat map: rows are the true classes, columns the predicted ones, each cell coloured by
    /// its share of the row (so a rare class reads as clearly as a common one), its count printed up to
    /// <see cref="MaxClassesWithCounts"/> classes, the class names on both axes (shortened, and every n-th one when
    /// there are too many to fit).
    /// </summary>
    public static void ConfusionMatrix(string path, long[,] counts, IReadOnlyList<string> classNames, int width = 1000, int height = 1000)
    {
        PngFile.CheckSize(width, height);
        int k = counts.GetLength(0);
        if (k == 0 || counts.GetLength(1) != k) throw new ArgumentException($"the matrix is {k} x {counts.GetLength(1)}, not K x K with K > 0", nameof(counts));
        if (classNames.Count != k) throw new ArgumentException($"{classNames.Count} class names for a {k} x {k} matrix", nameof(classNames));

        var share = new double[k, k];
        long total = 0, correct = 0;
        for (int i = 0; i < k; i++)
        {
            long row = 0;
            for (int j = 0; j < k; j++)
            {
                if (counts[i, j] < 0) throw new ArgumentException($"count [{i},{j}] is negative", nameof(counts));
                row += counts[i, j];
            }
            for (int j = 0; j < k; j++) share[i, j] = row == 0 ? 0 : (double)counts[i, j] / row;
            total += row;
            correct += counts[i, i];
        }

        using var plot = new Plot();
        PngFile.Style(plot);
        // Row 0 of the intensities is drawn at the top: true class i sits at y = k-1-i, predicted class j at x = j.
        var map = plot.Add.Heatmap(share);
        map.Colormap = new ScottPlot.Colormaps.Blues().Reversed(); // white for none, dark blue for all
        map.ManualRange = new ScottPlot.Range(0, 1);
        map.Rectangle = new CoordinateRect(-0.5, k - 0.5, -0.5, k - 0.5);
        var bar = plot.Add.ColorBar(map);
        bar.Label = "share of the true class";

        // Pixels per class along the shorter side, after room for the names and the colour bar.
        double cell = Math.Min(width - 260, height - 220) / (double)k;
        if (k <= MaxClassesWithCounts && cell >= 14)
        {
            float size = (float)Math.Clamp(cell * 0.32, 7, 14);
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++)
                {
                    var text = plot.Add.Text(counts[i, j].ToString(CultureInfo.InvariantCulture), j, k - 1 - i);
                    text.LabelAlignment = Alignment.MiddleCenter;
                    text.LabelFontSize = size;
                    text.LabelFontColor = share[i, j] > 0.5 ? Colors.White : Colors.Black; // readable on dark and light cells
                }
        }

        float nameSize = (float)Math.Clamp(cell * 0.8, 8, 12);
        int every = Math.Max(1, (int)Math.Ceiling(nameSize * 1.8 / Math.Max(cell, 1e-9))); // a line and a bit apart: the slanted ones need it
        var xTicks = new NumericManual();
        var yTicks = new NumericManual();
        int longest = 0;
        for (int c = 0; c < k; c += every)
        {
            string name = Shorten(classNames[c]);
            longest = Math.Max(longest, name.Length);
            xTicks.AddMajor(c, name);
            yTicks.AddMajor(k - 1 - c, name);
        }
        plot.Axes.Bottom.TickGenerator = xTicks;
        plot.Axes.Left.TickGenerator = yTicks;
        plot.Axes.Bottom.TickLabelStyle.FontSize = nameSize;
        plot.Axes.Left.TickLabelStyle.FontSize = nameSize;
        plot.Axes.Bottom.TickLabelStyle.Rotation = -45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight; // each name ends at its column
        // The rotated names hang below the axis: room for the longest one (ScottPlot sizes the axis for flat text).
        plot.Axes.Bottom.MinimumSize = (float)(longest * nameSize * 0.6 * 0.71 + nameSize * 2 + 24);
        plot.Axes.SetLimits(-0.5, k - 0.5, -0.5, k - 0.5);
        plot.HideGrid(); // the lines would show through the gaps of the colour map only
        plot.XLabel("predicted class");
        plot.YLabel("true class");
        double accuracy = total == 0 ? double.NaN : (double)correct / total;
        plot.Title($"Confusion matrix: {total.ToString("N0", CultureInfo.InvariantCulture)} images, {k} classes, " +
            $"top-1 {(double.IsNaN(accuracy) ? "n/a" : (100 * accuracy).ToString("F2", CultureInfo.InvariantCulture) + "%")}" +
            (every > 1 ? $"\n(one class name in {every} shown)" : ""));
        PngFile.Write(path, plot, width, height);
    }

    /// <summary>A long class name keeps its start and its end around an ellipsis: fine-grained names often differ
    /// only at the end ("Audi S4 Sedan 2007" / "… 2012").</summary>
    internal static string Shorten(string name)
    {
        name = name.Replace('\n', ' ').Replace('\r', ' ').Trim();
        if (name.Length <= MaxNameLength) return name;
        int tail = (MaxNameLength - 1) / 2;
        return name[..(MaxNameLength - 1 - tail)] + "…" + name[^tail..];
    }
}

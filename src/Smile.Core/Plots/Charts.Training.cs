using ScottPlot;
using ScottPlot.MultiplotLayouts;

namespace Smile.Plots;

public static partial class Charts
{
    /// <summary>
    /// The curves of one training run in four panels: the loss terms (every tag starting with <c>train_</c> but
    /// <c>train_acc</c>), accuracy (<c>train_acc</c>, <c>val_acc</c>), <c>val_loss</c> and the learning rate
    /// (<c>lr</c>). Per-iteration series are noisy: past a few hundred points they are drawn faint with a smoothed
    /// line over them (but the learning rate, a schedule). Non-finite values (no accuracy for mixed batches) are left out. A panel with nothing to draw
    /// says so rather than disappearing, so every run's picture has the same layout.
    /// </summary>
    public static void TrainingCurves(string path, IReadOnlyDictionary<string, (long Step, double Value)[]> series, string title, int width = 1400, int height = 1000)
    {
        PngFile.CheckSize(width, height);
        var losses = series.Keys.Where(t => t.StartsWith("train_", StringComparison.Ordinal) && t != "train_acc")
            .OrderBy(t => t == "train_loss" ? 0 : 1).ThenBy(t => t, StringComparer.Ordinal).ToList(); // the total first
        var panels = new Panel[]
        {
            new("loss terms", "loss", losses.ToArray(), "no train_* loss logged", Alignment.UpperRight),
            new("accuracy", "top-1", ["train_acc", "val_acc"], "no accuracy logged", Alignment.LowerRight),
            new("validation loss", "val_loss", ["val_loss"], "no val_loss logged (finetune without an evaluation set?)", Alignment.UpperRight),
            new("learning rate", "lr", ["lr"], "no lr logged", Alignment.UpperRight),
        };

        var figure = new Multiplot();
        var grid = new CustomGrid();
        // A row for the run's title above the 2 x 2 panels: a Multiplot has no title of its own.
        using var heading = new Plot();
        PngFile.Style(heading);
        heading.Layout.Frameless();
        var text = Note(heading, title);
        text.LabelFontSize = 18;
        text.LabelBold = true;
        text.LabelFontColor = Colors.Black;
        figure.AddPlot(heading);
        grid.Set(heading, new GridCell(0, 0, 13, 2, 1, 2));

        var panelPlots = panels.Select(_ => new Plot()).ToArray();
        try
        {
            // One iteration axis for all panels, so that an evaluation lines up with the training curve above it.
            var steps = series.Values.SelectMany(points => points).Select(x => (double)x.Step).DefaultIfEmpty(0).ToArray();
            var range = (Min: steps.Min(), Max: Math.Max(steps.Max(), steps.Min() + 1));
            for (int p = 0; p < panels.Length; p++) DrawPanel(figure, grid, panelPlots[p], p, panels[p], series, range);
            figure.Layout = grid;
            PngFile.Write(path, figure, width, height);
        }
        finally
        {
            foreach (var plot in panelPlots) plot.Dispose();
        }
    }

    private record struct Panel(string Title, string YLabel, string[] Tags, string Missing, Alignment Legend);

    /// <summary>Panel <paramref name="index"/> of the 2 x 2, below the heading row.</summary>
    private static void DrawPanel(Multiplot figure, CustomGrid grid, Plot plot, int index, Panel panel,
        IReadOnlyDictionary<string, (long Step, double Value)[]> series, (double Min, double Max) steps)
    {
        PngFile.Style(plot);
        plot.XLabel("iteration");
        plot.YLabel(panel.YLabel);
        var palette = new ScottPlot.Palettes.Category10();
        var present = panel.Tags
            .Select(t => (Tag: t, Points: series.TryGetValue(t, out var points) ? points.Where(x => double.IsFinite(x.Value)).ToArray() : []))
            .Where(x => x.Points.Length > 0).ToList();
        for (int c = 0; c < present.Count; c++)
            AddCurve(plot, present[c].Tag, present[c].Points, palette.GetColor(c), smooth: present[c].Tag != "lr", legend: present.Count > 1);
        // A panel of one curve has no legend: its title says which tag it is when the panel could hold more.
        plot.Title(present.Count == 1 && panel.Tags.Length > 1 ? $"{panel.Title} ({present[0].Tag})" : panel.Title);
        if (present.Count == 0) Note(plot, panel.Missing);
        else
        {
            double margin = (steps.Max - steps.Min) * 0.03;
            if (panel.Title == "accuracy") plot.Axes.SetLimits(steps.Min - margin, steps.Max + margin, 0, 1.02); // a share: judged on its whole range
            else plot.Axes.SetLimitsX(steps.Min - margin, steps.Max + margin);
            if (present.Count > 1) plot.ShowLegend(panel.Legend);
        }
        figure.AddPlot(plot);
        grid.Set(plot, new GridCell(1 + 6 * (index / 2), index % 2, 13, 2, 6, 1));
    }

    private const int RawPointsBeforeSmoothing = 200;

    // ScottPlot shows a legend as soon as one item has a text: a panel with one curve gets none.
    private static void AddCurve(Plot plot, string tag, (long Step, double Value)[] points, Color color, bool smooth, bool legend)
    {
        var steps = points.Select(x => (double)x.Step).ToArray();
        var values = points.Select(x => x.Value).ToArray();
        if (!smooth || points.Length <= RawPointsBeforeSmoothing)
        {
            var line = plot.Add.ScatterLine(steps, values, color);
            line.LineWidth = 2;
            line.MarkerSize = points.Length <= 60 ? 6 : 0; // evaluations: a marker at each one
            if (legend) line.LegendText = tag;
            return;
        }
        var raw = plot.Add.ScatterLine(steps, values, color.WithAlpha(0.25));
        raw.LineWidth = 1;
        var trend = plot.Add.ScatterLine(steps, Smooth(values), color);
        trend.LineWidth = 2;
        if (legend) trend.LegendText = $"{tag} (smoothed)";
    }

    /// <summary>Text alone in the middle of a panel, without axes.</summary>
    private static ScottPlot.Plottables.Annotation Note(Plot plot, string text)
    {
        plot.Axes.Frameless();
        plot.HideGrid();
        var note = plot.Add.Annotation(text, Alignment.MiddleCenter);
        note.LabelFontSize = 14;
        note.LabelFontColor = Colors.Gray;
        note.LabelBackgroundColor = Colors.Transparent;
        note.LabelBorderWidth = 0;
        note.LabelShadowColor = Colors.Transparent;
        return note;
    }

    /// <summary>A centred moving average over about 1/50 of the series, so the trend reads the same at 500 or 50,000
    /// iterations and, unlike TensorBoard's exponential average, does not lag behind the raw points.</summary>
    internal static double[] Smooth(double[] values)
    {
        int half = Math.Clamp(values.Length / 100, 1, 500);
        var prefix = new double[values.Length + 1];
        for (int i = 0; i < values.Length; i++) prefix[i + 1] = prefix[i] + values[i];
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            int from = Math.Max(0, i - half), to = Math.Min(values.Length, i + half + 1); // narrower at the ends
            result[i] = (prefix[to] - prefix[from]) / (to - from);
        }
        return result;
    }
}

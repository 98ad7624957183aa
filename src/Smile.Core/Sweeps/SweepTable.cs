using Smile.Training;

namespace Smile.Sweeps;

/// <summary>
/// A sweep's results as a paper table: one row per value of the method axis, one column per value of the data axis
/// (or a single column), each cell the mean ± sample std of the runs' best eval top-1 over the remaining axes (the
/// seeds); and each method's paired difference against a baseline method: for every assignment of the remaining axes
/// where both ran, method minus baseline, then mean ± std of those differences.
/// </summary>
public sealed record SweepTable(string MethodAxis, string? DataAxis, IReadOnlyList<string> Methods, IReadOnlyList<string> Datasets,
    IReadOnlyDictionary<(string Method, string Data), SweepTable.Cell> Cells, IReadOnlyDictionary<(string Method, string Data), SweepTable.Cell> Differences)
{
    /// <summary>Mean and sample std (in top-1 fractions) of <see cref="Runs"/> values; <see cref="Missing"/> runs had no result.</summary>
    public sealed record Cell(double Mean, double Std, int Runs, int Missing);

    /// <summary>The table of <paramref name="grid"/>'s finished runs (a run without a finished summary counts as missing).</summary>
    public static SweepTable Build(SweepGrid grid, string methodAxis, string? dataAxis, string? baseline)
    {
        foreach (var axis in new[] { methodAxis, dataAxis }.OfType<string>())
            if (!grid.Axes.Contains(axis)) throw new UsageException($"{grid.File} has no axis '{axis}' (axes: {string.Join(", ", grid.Axes)})");
        var results = grid.Runs.Select(r => (Run: r, Top1: BestTop1(Path.Combine(grid.Output, r.Name)))).ToList();
        var methods = grid.Runs.Select(r => r.ValueOf(methodAxis)).Distinct().ToList();
        if (baseline is not null && !methods.Contains(baseline))
            throw new UsageException($"the baseline '{baseline}' is not a value of axis '{methodAxis}' ({string.Join(", ", methods)})");
        var datasets = dataAxis is null ? new List<string> { "" } : grid.Runs.Select(r => r.ValueOf(dataAxis)).Distinct().ToList();
        string DataOf(SweepRun r) => dataAxis is null ? "" : r.ValueOf(dataAxis);
        // The axes a cell averages over; a run's values on them pair it with the baseline's run.
        var rest = grid.Axes.Where(a => a != methodAxis && a != dataAxis).ToList();
        string PairKey(SweepRun r) => string.Join("\u0001", rest.Select(r.ValueOf));
        var cells = new Dictionary<(string, string), Cell>();
        var differences = new Dictionary<(string, string), Cell>();
        foreach (var method in methods)
            foreach (var data in datasets)
            {
                var runs = results.Where(x => x.Run.ValueOf(methodAxis) == method && DataOf(x.Run) == data).ToList();
                if (runs.Count == 0) continue; // excluded
                cells[(method, data)] = Summarise(runs.Select(x => x.Top1).ToList());
                if (baseline is null || method == baseline) continue;
                var base_ = results.Where(x => x.Run.ValueOf(methodAxis) == baseline && DataOf(x.Run) == data)
                    .ToDictionary(x => PairKey(x.Run), x => x.Top1);
                differences[(method, data)] = Summarise(runs.Select(x => base_.TryGetValue(PairKey(x.Run), out var b) && b is not null && x.Top1 is not null ? x.Top1 - b : null).ToList());
            }
        return new SweepTable(methodAxis, dataAxis, methods, datasets, cells, differences);
    }

    private static Cell Summarise(IReadOnlyList<double?> values)
    {
        var present = values.OfType<double>().ToArray();
        return new Cell(present.Length > 0 ? present.Average() : double.NaN, RunReport.Std(present), present.Length, values.Count - present.Length);
    }

    private static double? BestTop1(string folder)
    {
        var state = SweepRunState.Read(folder);
        return state.Status == SweepRunStatus.Done && SweepRunState.ReadSummary(state.Summary!) is { } s && !double.IsNaN(s.BestAccuracy) ? s.BestAccuracy : null;
    }

    /// <summary>"81.23 ± 0.45" in percent, with "(n/m)" when runs are missing; "-" without any.</summary>
    public static string Show(Cell? cell, bool signed = false)
    {
        if (cell is null || cell.Runs == 0) return cell is null ? "" : $"- (0/{cell.Missing})";
        string mean = (100 * cell.Mean).ToString(signed ? "+0.00;-0.00;0.00" : "F2", System.Globalization.CultureInfo.InvariantCulture);
        string text = $"{mean} ± {(100 * cell.Std).ToString("F2", System.Globalization.CultureInfo.InvariantCulture)}";
        return cell.Missing > 0 ? $"{text} ({cell.Runs}/{cell.Runs + cell.Missing})" : text;
    }

    /// <summary>The table in Markdown: the cells, then (with a baseline) the paired differences.</summary>
    public string Markdown(string? baseline)
    {
        var lines = new List<string>();
        var head = Datasets.Select(d => d.Length == 0 ? "best top-1 (%)" : d).ToList();
        lines.Add($"| {MethodAxis} | {string.Join(" | ", head)} |");
        lines.Add($"|---|{string.Concat(head.Select(_ => "---:|"))}");
        foreach (var m in Methods) lines.Add($"| {m} | {string.Join(" | ", Datasets.Select(d => Show(Cells.GetValueOrDefault((m, d)))))} |");
        if (baseline is not null)
        {
            lines.Add("");
            lines.Add($"| {MethodAxis} − {baseline} (paired) | {string.Join(" | ", head)} |");
            lines.Add($"|---|{string.Concat(head.Select(_ => "---:|"))}");
            foreach (var m in Methods.Where(m => m != baseline))
                lines.Add($"| {m} | {string.Join(" | ", Datasets.Select(d => Show(Differences.GetValueOrDefault((m, d)), signed: true)))} |");
        }
        return string.Join('\n', lines);
    }

    /// <summary>One CSV line per method and data set: mean, std and counts in top-1 fractions, and the paired difference.</summary>
    public string Csv()
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        string N(double v) => double.IsNaN(v) ? "" : v.ToString("R", inv);
        var lines = new List<string> { $"{MethodAxis},{DataAxis ?? "data"},mean_best_top1,std_best_top1,runs,missing,mean_diff,std_diff,paired_runs" };
        foreach (var m in Methods)
            foreach (var d in Datasets)
            {
                if (!Cells.TryGetValue((m, d), out var c)) continue;
                var diff = Differences.GetValueOrDefault((m, d));
                lines.Add(string.Join(',', Quote(m), Quote(d), N(c.Mean), N(c.Std), c.Runs, c.Missing,
                    diff is null ? "" : N(diff.Mean), diff is null ? "" : N(diff.Std), diff?.Runs.ToString(inv) ?? ""));
            }
        return string.Join('\n', lines);
    }

    private static string Quote(string s) => s.Contains(',') || s.Contains('"') ? $"\"{s.Replace("\"", "\"\"")}\"" : s;
}

using System.Text.Json;
using System.Text.RegularExpressions;

namespace Smile.Training;

/// <summary>
/// The finished runs of a folder (their `*_summary.json`), one row each, and the same runs grouped over seeds:
/// runs whose names differ only in a trailing `_s&lt;seed&gt;` (e.g. `t20_s1`, `t20_s2`) and that share the
/// regularizer form one group, reported as mean and sample standard deviation.
/// </summary>
public static partial class RunReport
{
    public sealed record Row(string Name, string Regularizer, string Architecture, long Iterations, double BestTop1, long BestIteration,
        double? LastTop1, double? LastNll, double Seconds);

    public sealed record Group(string Name, string Regularizer, int Runs, double MeanLastTop1, double StdLastTop1, double MeanBestTop1, double StdBestTop1, double MeanSeconds);

    public static IReadOnlyList<Row> Read(string folder)
    {
        var rows = new List<Row>();
        foreach (var path in Directory.EnumerateFiles(folder, "*_summary.json").Order(StringComparer.Ordinal))
        {
            TrainingSummary? s;
            try { s = JsonSerializer.Deserialize<TrainingSummary>(File.ReadAllText(path), new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }); }
            catch (JsonException e) { throw new Data.DataException($"{path}: not a Smile run summary ({e.Message})"); }
            // A SimNet run (`smile simtrans train-simnet`) writes a summary of its own kind beside classifier runs.
            if (s is null || s.Regularizer is null) continue;
            rows.Add(new Row(s.Name, s.Regularizer, s.Architecture, s.Iterations, s.BestAccuracy, s.BestIteration, s.LastEval?.Top1, s.LastEval?.Nll, s.Seconds));
        }
        return rows;
    }

    public static IReadOnlyList<Group> GroupOverSeeds(IReadOnlyList<Row> rows) =>
        rows.GroupBy(r => (Name: SeedSuffix().Replace(r.Name, ""), r.Regularizer))
            .Select(g =>
            {
                var last = g.Select(r => r.LastTop1 ?? double.NaN).ToArray();
                var best = g.Select(r => r.BestTop1).ToArray();
                return new Group(g.Key.Name, g.Key.Regularizer, g.Count(), last.Average(), Std(last), best.Average(), Std(best), g.Average(r => r.Seconds));
            })
            .OrderBy(g => g.Name, StringComparer.Ordinal).ThenBy(g => g.Regularizer, StringComparer.Ordinal).ToList();

    /// <summary>Sample standard deviation (n - 1), 0 for a single run.</summary>
    public static double Std(IReadOnlyList<double> values)
    {
        if (values.Count < 2) return 0;
        double mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
    }

    [GeneratedRegex(@"_s\d+$")]
    private static partial Regex SeedSuffix();
}

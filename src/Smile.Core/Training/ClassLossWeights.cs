using System.Globalization;
using Serilog;
using Smile.Data;

namespace Smile.Training;

/// <summary>
/// Per-class weights of the label cross-entropy (<see cref="LossOptions.ClassWeights"/>, applied by
/// <see cref="LossTerms.CrossEntropy"/>): "balanced", scikit-learn's n_samples / (n_classes * count_c) over the
/// images the run trains on, or a file of `class,weight` lines (CSV, one line per class of the training folder).
/// </summary>
public static class ClassLossWeights
{
    /// <summary>The spelling that asks for <see cref="Balanced"/> instead of a file.</summary>
    public const string BalancedName = "balanced";

    /// <summary>The weights <paramref name="spec"/> asks for, in class-index order, logged; null when it is null (no weights).</summary>
    public static double[]? Resolve(string? spec, ImageFolder train, ILogger? log = null)
    {
        if (spec is null) return null;
        var weights = spec == BalancedName ? Balanced(train) : FromFile(spec, train.Classes);
        log?.Information("Class weights ({Source}): {Weights}", spec == BalancedName ? "balanced: n_samples / (n_classes * count)" : spec,
            Describe(train.Classes, weights));
        return weights;
    }

    /// <summary>n_samples / (n_classes * count_c), scikit-learn's compute_class_weight("balanced"), over the images of
    /// <paramref name="train"/>: a class with fewer images weighs more, and the weights average to 1 over the images.</summary>
    public static double[] Balanced(ImageFolder train)
    {
        ArgumentNullException.ThrowIfNull(train);
        var counts = Enumerable.Range(0, train.Classes.Count).Select(train.CountOf).ToArray();
        int empty = Array.IndexOf(counts, 0);
        if (empty >= 0) throw new DataException($"{train.Root}: class '{train.Classes[empty]}' has no training images, so it has no balanced weight");
        return Balanced(counts);
    }

    /// <summary>n / (K * counts[c]) with n the sum of the K <paramref name="counts"/>, each at least 1.</summary>
    public static double[] Balanced(IReadOnlyList<int> counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        if (counts.Any(c => c < 1)) throw new ArgumentException("every class needs at least one image", nameof(counts));
        double n = counts.Sum(c => (double)c);
        return counts.Select(c => n / (counts.Count * (double)c)).ToArray();
    }

    /// <summary>Reads `class,weight` lines (CSV quoting for names with commas; blank lines ignored): every class of
    /// <paramref name="classes"/> exactly once, each weight a positive finite number (so that no batch has a weight sum of 0,
    /// the divisor of the weighted mean). Errors name the file and line.</summary>
    public static double[] FromFile(string path, IReadOnlyList<string> classes)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new DataException($"{path}: cannot read the class weights: {e.Message}"); }
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < classes.Count; i++) index[classes[i]] = i;
        var weights = new double?[classes.Count];
        foreach (var (fields, line) in Csv.Records(path, text))
        {
            if (fields.Count == 1 && string.IsNullOrWhiteSpace(fields[0])) continue;
            if (fields.Count != 2) throw new DataException($"{path} line {line}: expected `class,weight`, got {fields.Count} field(s)");
            var name = fields[0];
            if (!index.TryGetValue(name, out int c))
                throw new DataException($"{path} line {line}: unknown class '{name}' (the training folder's classes: {string.Join(", ", classes.Take(5))}{(classes.Count > 5 ? ", ..." : "")})");
            if (weights[c] is not null) throw new DataException($"{path} line {line}: class '{name}' is given twice");
            if (!double.TryParse(fields[1].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double w) || !double.IsFinite(w) || !(w > 0))
                throw new DataException($"{path} line {line}: the weight of '{name}' must be a positive number, not '{fields[1]}'");
            weights[c] = w;
        }
        var missing = Enumerable.Range(0, classes.Count).Where(c => weights[c] is null).Select(c => classes[c]).ToList();
        if (missing.Count > 0)
            throw new DataException($"{path}: no weight for class{(missing.Count > 1 ? "es" : "")} {string.Join(", ", missing.Take(5).Select(m => $"'{m}'"))}{(missing.Count > 5 ? $" and {missing.Count - 5} more" : "")} (one `class,weight` line per class)");
        return weights.Select(w => w!.Value).ToArray();
    }

    /// <summary>"ant 0.5, bee 2" (the first ten classes).</summary>
    public static string Describe(IReadOnlyList<string> classes, IReadOnlyList<double> weights) =>
        string.Join(", ", classes.Zip(weights).Take(10).Select(p => $"{p.First} {p.Second.ToString("G4", CultureInfo.InvariantCulture)}"))
        + (classes.Count > 10 ? $", ... ({classes.Count} classes)" : "");
}

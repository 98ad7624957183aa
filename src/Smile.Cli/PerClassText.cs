using System.CommandLine;
using System.Globalization;
using Smile.Evaluation;

namespace Smile.Cli;

/// <summary>The per-class table and the confusions of `smile test` (terminal text and JSON), and their flags. Long
/// lists are cut to the worst few rows by default, so that 200 classes stay readable.</summary>
internal static class PerClassText
{
    public const string DefaultRows = "10";
    private const int NameWidth = 32;

    public static Option<string> ClassesFlag() => Flags.Make("per_class",
        "How many classes the per-class table lists, lowest accuracy first: a number (0: no table) or all.", DefaultRows);

    public static Option<string> ConfusionsFlag() => Flags.Make("confusions",
        "How many of the most frequent confusions (true -> predicted class, with example images) to list: a number (0: none) or all.", DefaultRows);

    public static Option<string?> ErrorsFlag() => Flags.Optional<string>("errors",
        "Write every misclassified image to this CSV: path, true class, predicted class, confidence of the prediction, probability of the true class.");

    /// <summary>A row count flag: a whole number, 0 or more, or "all".</summary>
    public static int Rows(string? value, string flag)
    {
        if (string.Equals(value?.Trim(), "all", StringComparison.OrdinalIgnoreCase)) return int.MaxValue;
        Flags.Require(int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int rows), flag,
            $"must be a number of rows (0 or more) or all, not '{value}'");
        return rows;
    }

    /// <summary>The table of the <paramref name="rows"/> classes with the lowest accuracy (nothing for 0 rows).</summary>
    public static IEnumerable<string> ClassTable(PerClassReport report, int rows)
    {
        if (rows <= 0) yield break;
        var shown = report.WorstFirst().Take(rows).ToArray();
        int k = report.Classes.Count;
        string mean = report.MeanRecall is { } m ? $"; mean per-class accuracy {Fixed(m)}" : "";
        yield return "";
        yield return shown.Length == k
            ? $"Per class ({k} classes, lowest accuracy first; accuracy = recall{mean}):"
            : $"Per class: the {shown.Length} of {k} classes with the lowest accuracy (--per_class all lists every class; accuracy = recall{mean}):";
        int width = Math.Max("class".Length, shown.Max(c => Cut(c.Name, NameWidth).Length));
        yield return $"{"class".PadRight(width)}  {"images",6}  {"correct",7}  {"accuracy",8}  {"precision",9}  {"predicted",9}";
        foreach (var c in shown)
            yield return $"{Cut(c.Name, NameWidth).PadRight(width)}  {c.Count,6}  {c.Correct,7}  {Fixed(c.Recall),8}  {Fixed(c.Precision),9}  {c.Predicted,9}";
        if (shown.Any(c => c.Precision is null))
            yield return "(precision n/a: no image was predicted as the class)";
    }

    /// <summary>The <paramref name="rows"/> most frequent confusions with their example images, named relative to
    /// <paramref name="root"/> (the test folder) to keep the lines short.</summary>
    public static IEnumerable<string> ConfusionTable(PerClassReport report, int rows, string root)
    {
        if (rows <= 0) yield break;
        yield return "";
        if (report.Confusions.Count == 0)
        {
            yield return "No misclassified images.";
            yield break;
        }
        var shown = report.Confusions.Take(rows).ToArray();
        string which = shown.Length == report.Confusions.Count ? $"all {shown.Length}" : $"the {shown.Length} most frequent of {report.Confusions.Count}";
        yield return $"Confusions, true -> predicted ({which} pairs; {report.Errors.Count} of {report.Count} images misclassified):";
        var pairs = shown.Select(c => $"{Cut(report.Classes[c.True].Name, NameWidth)} -> {Cut(report.Classes[c.Predicted].Name, NameWidth)}").ToArray();
        int width = Math.Max("true -> predicted".Length, pairs.Max(p => p.Length));
        yield return $"{"images",6}  {"true -> predicted".PadRight(width)}  examples (most confident first, probability of the prediction)";
        for (int i = 0; i < shown.Length; i++)
        {
            var examples = string.Join(", ", shown[i].Examples.Select(e => $"{Relative(e, root)} ({Fixed(e.Confidence, "F2")})"));
            yield return $"{shown[i].Count,6}  {pairs[i].PadRight(width)}  {examples}";
        }
    }

    /// <summary>Every class, in class order, for the JSON (a null accuracy: no image; a null precision: never predicted).</summary>
    public static object[] ClassesJson(PerClassReport report) => report.Classes.Select(c => (object)new
    {
        index = c.Class, @class = c.Name, images = c.Count, correct = c.Correct, predicted = c.Predicted,
        accuracy = c.Recall, recall = c.Recall, precision = c.Precision,
    }).ToArray();

    /// <summary>Every confusion, most frequent first, with its examples' full paths, for the JSON.</summary>
    public static object[] ConfusionsJson(PerClassReport report) => report.Confusions.Select(c => (object)new
    {
        true_class = report.Classes[c.True].Name, predicted_class = report.Classes[c.Predicted].Name, images = c.Count,
        examples = c.Examples.Select(e => new { path = e.Path, confidence = e.Confidence, true_class_confidence = e.TrueConfidence }).ToArray(),
    }).ToArray();

    private static string Relative(Misclassification e, string root) =>
        e.Path is null ? $"#{e.Index}" : Path.GetRelativePath(root, e.Path);

    private static string Fixed(double? value, string format = "F4") => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "n/a";

    private static string Cut(string name, int max) => name.Length <= max ? name : name[..(max - 3)] + "...";
}

using System.Text.Json;
using System.Text.RegularExpressions;

namespace Smile.Sweeps;

/// <summary>One run of a sweep: its name (from its axis values), the value it takes on every axis (the value's
/// label: a named value's name, else the value's text) and its complete settings (base, then the axes' values).</summary>
public sealed record SweepRun(string Name, IReadOnlyList<KeyValuePair<string, string>> AxisValues, IReadOnlyList<KeyValuePair<string, JsonElement>> Settings)
{
    public string ValueOf(string axis) => AxisValues.FirstOrDefault(a => a.Key == axis).Value
        ?? throw new UsageException($"the sweep has no axis '{axis}' (axes: {string.Join(", ", AxisValues.Select(a => a.Key))})");
}

/// <summary>
/// A sweep's grid file: a JSON object with "base" (settings every run shares), "axes" (each a list of values of the
/// setting it names, or an object of named values, each an object of settings, e.g. a data set's train and eval
/// folders), "exclude" (a list of partial assignments, axis to value label, whose runs are left out) and optional
/// "output" (the sweep's folder, relative to the grid file; default: the grid file's name beside it) and "slurm"
/// (job settings). The grid expands into the product of the axes, in the file's order, the last axis fastest.
/// </summary>
public sealed partial class SweepGrid
{
    private static readonly string[] TopKeys = ["base", "axes", "exclude", "output", "slurm"];

    public required string File { get; init; }
    public required string Output { get; init; }
    public required IReadOnlyList<string> Axes { get; init; }
    public required IReadOnlyList<SweepRun> Runs { get; init; }
    public required IReadOnlyDictionary<string, JsonElement> Slurm { get; init; }

    /// <summary>Reads and expands <paramref name="file"/>; every mistake is one line naming the file and the key.</summary>
    public static SweepGrid Load(string file)
    {
        file = Path.GetFullPath(file);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(System.IO.File.ReadAllText(file), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e) { throw new UsageException($"{file} is not valid JSON (line {e.LineNumber + 1})"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new UsageException($"cannot read {file}: {e.Message}"); }
        using (document) return Expand(file, document.RootElement.Clone());
    }

    private static SweepGrid Expand(string file, JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new UsageException($"{file} must hold one JSON object (base, axes, exclude)");
        var top = Object(root, file, "the grid");
        foreach (var key in top.Keys.Where(k => !TopKeys.Contains(k)))
            throw new UsageException($"{file}: unknown key '{key}' (a grid has {string.Join(", ", TopKeys)})");
        var baseSettings = top.TryGetValue("base", out var b) ? Object(b, file, "base").ToList() : [];
        if (!top.TryGetValue("axes", out var axesElement)) throw new UsageException($"{file}: key 'axes' is missing");
        var axes = new List<(string Axis, List<(string Label, List<KeyValuePair<string, JsonElement>> Settings)> Values)>();
        foreach (var (axis, values) in Object(axesElement, file, "axes"))
            axes.Add((axis, AxisValues(file, axis, values)));
        if (axes.Count == 0) throw new UsageException($"{file}: 'axes' is empty (give at least one axis, e.g. \"seed\": [1, 2, 3])");
        var excluded = Exclusions(file, top, axes.Select(a => (a.Axis, a.Values.Select(v => v.Label).ToList())).ToList());
        var runs = new List<SweepRun>();
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var combination in Product(axes.Select(a => a.Values).ToList()))
        {
            var labels = axes.Select((a, i) => KeyValuePair.Create(a.Axis, combination[i].Label)).ToList();
            if (excluded.Any(e => e.All(kv => labels.Any(l => l.Key == kv.Key && l.Value == kv.Value)))) continue;
            var settings = new List<KeyValuePair<string, JsonElement>>(baseSettings);
            foreach (var (_, values) in combination)
                foreach (var setting in values)
                {
                    settings.RemoveAll(s => s.Key == setting.Key);
                    settings.Add(setting);
                }
            var name = string.Join('_', labels.Select(l => $"{Safe(l.Key)}-{Safe(l.Value)}"));
            var shown = string.Join(", ", labels.Select(l => $"{l.Key}={l.Value}"));
            if (names.TryGetValue(name, out var other))
                throw new UsageException($"{file}: runs ({other}) and ({shown}) get the same name '{name}': make the values differ in letters, digits, '.' or '-'");
            names[name] = shown;
            runs.Add(new SweepRun(name, labels, settings));
        }
        if (runs.Count == 0) throw new UsageException($"{file}: 'exclude' leaves no run");
        string output = top.TryGetValue("output", out var o)
            ? o.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(o.GetString()) ? Path.GetFullPath(o.GetString()!, Path.GetDirectoryName(file)!)
                : throw new UsageException($"{file}: key 'output' must be a folder name")
            : Path.Combine(Path.GetDirectoryName(file)!, Path.GetFileNameWithoutExtension(file));
        var slurm = top.TryGetValue("slurm", out var s) ? Object(s, file, "slurm") : new Dictionary<string, JsonElement>();
        return new SweepGrid { File = file, Output = output, Axes = axes.Select(a => a.Axis).ToList(), Runs = runs, Slurm = slurm };
    }

    /// <summary>An axis's values: a list of scalars (each the axis setting's value, labelled by its text) or an object
    /// of named values (each an object of settings, labelled by its name).</summary>
    private static List<(string Label, List<KeyValuePair<string, JsonElement>> Settings)> AxisValues(string file, string axis, JsonElement values)
    {
        var result = new List<(string, List<KeyValuePair<string, JsonElement>>)>();
        if (values.ValueKind == JsonValueKind.Array)
        {
            foreach (var value in values.EnumerateArray())
            {
                if (value.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
                    throw new UsageException($"{file}: axis '{axis}': a listed value must be a number, string, true, false or null, not {value.GetRawText()}");
                result.Add((Label(value), [KeyValuePair.Create(axis, value)]));
            }
        }
        else if (values.ValueKind == JsonValueKind.Object)
        {
            foreach (var (label, settings) in Object(values, file, $"axes.{axis}"))
                result.Add((label, Object(settings, file, $"axes.{axis}.{label}").ToList()));
        }
        else throw new UsageException($"{file}: axis '{axis}' must be a list of values or an object of named values");
        if (result.Count == 0) throw new UsageException($"{file}: axis '{axis}' is empty (give it at least one value, or remove it)");
        var twice = result.GroupBy(r => r.Item1).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null) throw new UsageException($"{file}: axis '{axis}' has the value '{twice.Key}' twice");
        return result;
    }

    private static List<Dictionary<string, string>> Exclusions(string file, Dictionary<string, JsonElement> top, List<(string Axis, List<string> Labels)> axes)
    {
        var result = new List<Dictionary<string, string>>();
        if (!top.TryGetValue("exclude", out var exclude)) return result;
        if (exclude.ValueKind != JsonValueKind.Array) throw new UsageException($"{file}: 'exclude' must be a list of objects (axis: value)");
        foreach (var entry in exclude.EnumerateArray())
        {
            var rule = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (axis, value) in Object(entry, file, "exclude"))
            {
                var known = axes.FirstOrDefault(a => a.Axis == axis);
                if (known.Labels is null) throw new UsageException($"{file}: 'exclude' names '{axis}', which is not an axis (axes: {string.Join(", ", axes.Select(a => a.Axis))})");
                var label = value.ValueKind is JsonValueKind.Object or JsonValueKind.Array ? value.GetRawText() : Label(value);
                if (!known.Labels.Contains(label)) throw new UsageException($"{file}: 'exclude' gives axis '{axis}' the value '{label}', which it does not have ({string.Join(", ", known.Labels)})");
                rule[axis] = label;
            }
            if (rule.Count == 0) throw new UsageException($"{file}: 'exclude' holds an empty rule (it would exclude every run)");
            result.Add(rule);
        }
        return result;
    }

    private static Dictionary<string, JsonElement> Object(JsonElement element, string file, string what)
    {
        if (element.ValueKind != JsonValueKind.Object) throw new UsageException($"{file}: '{what}' must be an object");
        var result = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var p in element.EnumerateObject())
            if (!result.TryAdd(p.Name, p.Value)) throw new UsageException($"{file}: key '{p.Name}' appears twice in '{what}'");
        return result;
    }

    private static string Label(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Null => "none",
        _ => value.GetRawText(),
    };

    private static IEnumerable<T[]> Product<T>(IReadOnlyList<List<T>> lists)
    {
        IEnumerable<T[]> result = [[]];
        foreach (var list in lists) result = result.SelectMany(prefix => list.Select(v => prefix.Append(v).ToArray())).ToList();
        return result;
    }

    /// <summary>A label as it may stand in a folder name: letters, digits, '.' and '-'; anything else becomes '-'.</summary>
    private static string Safe(string text) => Unsafe().Replace(text, "-");

    [GeneratedRegex(@"[^A-Za-z0-9.\-]")]
    private static partial Regex Unsafe();
}

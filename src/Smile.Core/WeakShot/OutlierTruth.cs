using Smile.Data;

namespace Smile.WeakShot;

/// <summary>
/// Known outliers of a web folder (the outliers.csv that `smile prepare fashion-weak-shot` writes, or any CSV with a
/// header holding <c>path</c> and <c>is_outlier</c> columns, 0 or 1): lets `smile simtrans weights` say how well
/// the weights separate planted outliers. Relative paths are read against the CSV's folder.
/// </summary>
public static class OutlierTruth
{
    /// <summary>Full path to "is an outlier".</summary>
    public static IReadOnlyDictionary<string, bool> Read(string file)
    {
        string text;
        try { text = File.ReadAllText(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataException($"{file}: cannot read the outlier list ({e.Message})");
        }
        var records = Csv.Records(file, text).Where(r => r.Fields is not [""]).ToList();
        if (records.Count == 0) throw new DataException($"{file}: empty file (expected a header with path and is_outlier)");
        var header = records[0].Fields;
        int pathColumn = header.IndexOf("path"), flagColumn = header.IndexOf("is_outlier");
        if (pathColumn < 0 || flagColumn < 0)
            throw new DataException($"{file} line {records[0].Line}: the header needs a 'path' and an 'is_outlier' column, found '{string.Join(",", header)}'");
        string folder = Path.GetDirectoryName(Path.GetFullPath(file))!;
        var truth = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var (fields, line) in records.Skip(1))
        {
            if (fields.Count != header.Count) throw new DataException($"{file} line {line}: expected {header.Count} fields, found {fields.Count}");
            bool outlier = fields[flagColumn] switch
            {
                "1" => true,
                "0" => false,
                var other => throw new DataException($"{file} line {line}: is_outlier must be 0 or 1, not '{other}'"),
            };
            if (!truth.TryAdd(Path.GetFullPath(fields[pathColumn], folder), outlier))
                throw new DataException($"{file} line {line}: '{fields[pathColumn]}' appears twice");
        }
        return truth;
    }
}

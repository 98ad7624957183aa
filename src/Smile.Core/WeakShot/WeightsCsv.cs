using System.Globalization;
using System.Text;
using Smile.Data;

namespace Smile.WeakShot;

/// <summary>One web image's SimTrans sample weight (docs/METHODS.md, "Sample weights"): normalised to mean 1
/// within its class; the paper reports about 2.6 for a clean image and 0.02 for an outlier.</summary>
/// <param name="Path">The image file: absolute, or relative (see <see cref="WeightsCsv.Lookup"/> for how it is
/// resolved).</param>
public sealed record SampleWeight(string Path, string Class, double Weight);

/// <summary>What <see cref="WeightsCsv.Lookup"/> found for a training folder.</summary>
/// <param name="Weights">The weight of each training image, in the order of the sample paths given.</param>
/// <param name="RowsNotInFolder">Rows of the CSV whose image is not among the training images (e.g. the images a
/// validation split took out): ignored, counted so that the caller can say so.</param>
public sealed record WeightLookup(float[] Weights, int RowsNotInFolder);

/// <summary>
/// The sample-weights file of `smile simtrans weights`: CSV with the header <c>path,class,weight</c> and one row an
/// image. Numbers are written in the invariant culture with round-trip precision, so reading gives back the very
/// doubles written; a path or class holding a comma, a quote or a line break is quoted the RFC 4180 way (inside
/// quotes a quote is doubled). UTF-8 without a byte-order mark, lines ended by \n (\r\n is read too).
/// </summary>
public static class WeightsCsv
{
    public const string Header = "path,class,weight";

    /// <summary>Writes the rows in the order given, atomically (a temp file beside <paramref name="file"/>, then a
    /// rename). Rows that <see cref="Read"/> would refuse (an empty path or class, a weight that is negative or not
    /// finite, a path twice) are refused here, before anything is written.</summary>
    public static void Write(string file, IEnumerable<SampleWeight> rows)
    {
        var fields = new List<IReadOnlyList<string>>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            if (string.IsNullOrEmpty(row.Path)) throw new ArgumentException($"a row of class '{row.Class}' has an empty path", nameof(rows));
            if (string.IsNullOrEmpty(row.Class)) throw new ArgumentException($"{row.Path}: the class is empty", nameof(rows));
            if (!double.IsFinite(row.Weight) || row.Weight < 0)
                throw new ArgumentException($"{row.Path}: weight {row.Weight} is not a finite number >= 0", nameof(rows));
            if (!seen.Add(row.Path)) throw new ArgumentException($"{row.Path} appears twice", nameof(rows));
            fields.Add([row.Path, row.Class, row.Weight.ToString("R", CultureInfo.InvariantCulture)]);
        }
        try { Csv.Write(file, Header.Split(','), fields); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataException($"{file}: cannot write the weights ({e.Message})");
        }
    }

    /// <summary>The rows of <paramref name="file"/> in file order. Blank lines are skipped. A <see cref="DataException"/>
    /// names the file and the line for a missing or wrong header, a row without exactly 3 fields, an empty path or
    /// class, a weight that is not a number, not finite or negative, and a path that appears twice (the same text;
    /// two spellings of one file are caught by <see cref="Lookup"/>).</summary>
    public static IReadOnlyList<SampleWeight> Read(string file) => ReadLines(file).Select(r => r.Row).ToList();

    /// <summary>
    /// The weight of every training image (<paramref name="samplePaths"/>, e.g. the paths of
    /// <c>ImageFolder.Samples</c>), by path. Both sides are compared as full paths (<c>Path.GetFullPath</c>, ordinal,
    /// symlinks not resolved, as <c>ImageFolder</c> stores them). The rule for a path of the CSV:
    /// <list type="bullet">
    /// <item>an absolute path is used as it is;</item>
    /// <item>a relative path is read against <paramref name="relativeTo"/> when it is given, else against the folder
    /// that holds the CSV file, never against both (so a row always means one file). A CSV written with paths
    /// relative to the web folder's root (<c>class/image.jpg</c>) is read with <c>relativeTo</c> = that root, and
    /// keeps working when the folder is moved or copied to another machine; one written with paths relative to its
    /// own folder needs no <c>relativeTo</c> as long as it stays beside the images.</item>
    /// </list>
    /// A training image without a row is an error that names it (the first few and the count when there are more);
    /// so are two rows that name one file. Rows for images that are not training images are ignored and counted.
    /// </summary>
    public static WeightLookup Lookup(string file, IReadOnlyList<string> samplePaths, string? relativeTo = null)
    {
        var rows = ReadLines(file);
        var baseFolder = Path.GetFullPath(relativeTo ?? Path.GetDirectoryName(Path.GetFullPath(file))!);
        var byPath = new Dictionary<string, (double Weight, int Line)>(StringComparer.Ordinal);
        foreach (var (row, line) in rows)
        {
            var full = Path.GetFullPath(row.Path, baseFolder);
            if (!byPath.TryAdd(full, (row.Weight, line)))
                throw new DataException($"{file} line {line}: '{row.Path}' is the same file as line {byPath[full].Line} ({full})");
        }

        var weights = new float[samplePaths.Count];
        var missing = new List<string>();
        int used = 0;
        var matched = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < samplePaths.Count; i++)
        {
            var full = Path.GetFullPath(samplePaths[i]);
            if (byPath.TryGetValue(full, out var entry))
            {
                weights[i] = (float)entry.Weight;
                if (matched.Add(full)) used++;
            }
            else missing.Add(full);
        }
        if (missing.Count > 0)
        {
            const int named = 3;
            var where = $"relative paths in it are read against {baseFolder}";
            throw new DataException(missing.Count == 1
                ? $"{file}: no weight for the training image {missing[0]} ({where})"
                : $"{file}: no weight for {missing.Count} of the {samplePaths.Count} training images, e.g. " +
                  $"{string.Join(", ", missing.Take(named))}{(missing.Count > named ? ", ..." : "")} ({where})");
        }
        return new WeightLookup(weights, byPath.Count - used);
    }

    /// <summary>The validated rows with the line each starts on (a quoted line break makes a row span lines).</summary>
    private static List<(SampleWeight Row, int Line)> ReadLines(string file)
    {
        string text;
        try { text = File.ReadAllText(file, Encoding.UTF8); } // a byte-order mark, if any, is skipped
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new DataException($"{file}: weights file not found");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataException($"{file}: cannot read the weights ({e.Message})");
        }

        var records = Csv.Records(file, text).Where(r => r.Fields is not [""]).ToList(); // blank lines
        if (records.Count == 0) throw new DataException($"{file}: empty file (expected the header '{Header}')");
        var (header, headerLine) = records[0];
        if (string.Join(",", header) != Header)
            throw new DataException($"{file} line {headerLine}: expected the header '{Header}', found '{string.Join(",", header)}'");

        var rows = new List<(SampleWeight, int)>(records.Count - 1);
        var firstLine = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (fields, line) in records.Skip(1))
        {
            string at = $"{file} line {line}";
            if (fields.Count != 3) throw new DataException($"{at}: expected 3 fields ({Header}), found {fields.Count}");
            var (path, className, weightText) = (fields[0], fields[1], fields[2]);
            if (path.Length == 0) throw new DataException($"{at}: the path is empty");
            if (path.Contains('\0')) throw new DataException($"{at}: the path holds a NUL character");
            if (className.Length == 0) throw new DataException($"{at}: the class is empty");
            if (!double.TryParse(weightText, NumberStyles.Float, CultureInfo.InvariantCulture, out double weight))
                throw new DataException($"{at}: weight '{weightText}' is not a number");
            if (!double.IsFinite(weight)) throw new DataException($"{at}: weight '{weightText}' is not finite");
            if (weight < 0) throw new DataException($"{at}: weight '{weightText}' is negative");
            if (!firstLine.TryAdd(path, line)) throw new DataException($"{at}: '{path}' already appears on line {firstLine[path]}");
            rows.Add((new SampleWeight(path, className, weight), line));
        }
        return rows;
    }
}

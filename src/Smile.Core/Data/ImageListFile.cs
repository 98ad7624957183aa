using System.Globalization;

namespace Smile.Data;

/// <summary>One listed image: the path as written, its label (a class index) or its class name, and its 1-based line.</summary>
public sealed record ImageListEntry(string PathText, int? Label, string? ClassName, int Line);

/// <summary>
/// The lines of an image list file, not yet resolved against the disk or a class list. Two formats:
/// <list type="bullet">
/// <item>TLlib's and PaddleClas's image_list: one image a line, "path label", the label an integer class index after
/// the last run of spaces or tabs (so a path may contain single spaces, as TLlib reads it).</item>
/// <item>A CSV (RFC 4180) whose first line is a header with a "path" column and either a "label" column (class indices)
/// or a "class" column (class names); other columns are ignored. A file whose first line is such a header is a CSV
/// whatever its name; a ".csv" file without one is an error.</item>
/// </list>
/// Blank lines are skipped; there is no comment syntax (a path may start with '#'). Every problem names the file and line.
/// </summary>
public sealed class ImageListFile
{
    public string Path { get; }
    public bool IsCsv { get; }
    /// <summary>The entries carry class names (a CSV "class" column), not class indices.</summary>
    public bool NamedClasses { get; }
    /// <summary>The entries in the file's order.</summary>
    public IReadOnlyList<ImageListEntry> Entries { get; }

    private ImageListFile(string path, bool isCsv, bool namedClasses, List<ImageListEntry> entries)
    {
        Path = path;
        IsCsv = isCsv;
        NamedClasses = namedClasses;
        Entries = entries;
    }

    public static ImageListFile Read(string path)
    {
        string text = ImageListText.Text(path);
        var lines = text.Split('\n');
        int first = Array.FindIndex(lines, l => !string.IsNullOrWhiteSpace(l));
        if (first < 0) throw new DataException($"{path}: the list is empty (no image listed)");
        if (CsvHeader(path, lines[first].TrimEnd('\r'), first + 1) is { } header) return ReadCsv(path, text, first + 1, header);
        if (path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
            throw new DataException($"{path} line {first + 1}: a CSV list starts with a header naming its columns, path,label or path,class; found '{Shorten(lines[first].Trim())}'");
        return ReadImageList(path, lines);
    }

    private sealed record Header(int Path, int Value, bool Names, int Fields);

    /// <summary>The header's columns when <paramref name="line"/> is a CSV header (path plus label or class), else null.</summary>
    private static Header? CsvHeader(string path, string line, int number)
    {
        List<string> fields;
        try { fields = Csv.Records(path, line).First().Fields.Select(f => f.Trim().ToLowerInvariant()).ToList(); }
        catch (DataException) { return null; } // a quote in an image_list line: not a header
        int pathColumn = fields.IndexOf("path"), label = fields.IndexOf("label"), name = fields.IndexOf("class");
        if (pathColumn < 0 || (label < 0 && name < 0)) return null;
        if (label >= 0 && name >= 0)
            throw new DataException($"{path} line {number}: the header names both a label and a class column; keep one (label: class indices, class: class names)");
        if (fields.Count(f => f == "path") > 1 || fields.Count(f => f is "label" or "class") > 1)
            throw new DataException($"{path} line {number}: the header names a column twice ('{Shorten(line.Trim())}')");
        return new Header(pathColumn, Math.Max(label, name), name >= 0, fields.Count);
    }

    private static ImageListFile ReadCsv(string path, string text, int headerLine, Header header)
    {
        var entries = new List<ImageListEntry>();
        foreach (var (fields, line) in Csv.Records(path, text))
        {
            if (line <= headerLine) continue;
            if (fields.All(string.IsNullOrWhiteSpace)) continue;
            if (fields.Count != header.Fields)
                throw new DataException($"{path} line {line}: {fields.Count} field{(fields.Count == 1 ? "" : "s")}, but the header names {header.Fields}");
            string image = fields[header.Path].Trim();
            if (image.Length == 0) throw new DataException($"{path} line {line}: the path is empty");
            string value = fields[header.Value].Trim();
            if (header.Names)
            {
                if (value.Length == 0) throw new DataException($"{path} line {line}: the class name is empty");
                entries.Add(new ImageListEntry(image, null, value, line));
            }
            else entries.Add(new ImageListEntry(image, Label(path, line, value), null, line));
        }
        return new ImageListFile(path, isCsv: true, header.Names, entries);
    }

    private static ImageListFile ReadImageList(string path, string[] lines)
    {
        var entries = new List<ImageListEntry>();
        for (int i = 0; i < lines.Length; i++)
        {
            string text = lines[i].Trim();
            if (text.Length == 0) continue;
            int cut = text.LastIndexOfAny([' ', '\t']);
            if (cut < 0)
                throw new DataException($"{path} line {i + 1}: expected 'path label' (an image path, a space, a class index), found '{Shorten(text)}'");
            entries.Add(new ImageListEntry(text[..cut].TrimEnd(), Label(path, i + 1, text[(cut + 1)..]), null, i + 1));
        }
        return new ImageListFile(path, isCsv: false, namedClasses: false, entries);
    }

    private static int Label(string path, int line, string text)
    {
        if (text.Length > 0 && text.All(char.IsAsciiDigit) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int label)) return label;
        throw new DataException($"{path} line {line}: label '{Shorten(text)}' is not a class index (a whole number, 0 or more; " +
            "class names go in a CSV list with the header path,class)");
    }

    internal static string Shorten(string text) => text.Length <= 80 ? text : text[..77] + "...";
}

/// <summary>Reading a list or classes file as text, a missing or unreadable file being a one-line DataException.</summary>
internal static class ImageListText
{
    public static string Text(string path)
    {
        if (Directory.Exists(path)) throw new DataException($"{path}: is a folder, not a list file");
        if (!File.Exists(path)) throw new DataException($"{path}: file not found");
        try { return File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new DataException($"{path}: cannot read ({e.Message})"); }
    }

    /// <summary>The lines, "\r\n" and "\n" ends alike.</summary>
    public static string[] Lines(string path) => Text(path).Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
}

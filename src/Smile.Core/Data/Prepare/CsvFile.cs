using System.Text;

namespace Smile.Data.Prepare;

/// <summary>The CSV reports a preparation writes beside its folders (RFC 4180: a field with a comma, quote or
/// line break is quoted; "\n" line ends), written atomically like the images so that a crash never leaves half a table.</summary>
public static class CsvFile
{
    public static void Write(string path, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        var text = new StringBuilder();
        Append(text, header);
        foreach (var row in rows) Append(text, row);
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temporary = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            File.WriteAllText(temporary, text.ToString(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            File.Move(temporary, full, overwrite: true);
        }
        finally { File.Delete(temporary); }
    }

    private static void Append(StringBuilder text, IReadOnlyList<string> fields)
    {
        for (int i = 0; i < fields.Count; i++)
        {
            if (i > 0) text.Append(',');
            string field = fields[i];
            text.Append(field.IndexOfAny([',', '"', '\n', '\r']) < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"");
        }
        text.Append('\n');
    }
}

using System.Text;

namespace Smile.Data;

/// <summary>
/// The CSV files Smile writes and reads (sample weights, preparation reports, outlier lists): RFC 4180, a field with a
/// comma, quote or line break quoted and a quote inside written twice, UTF-8 without a byte-order mark, "\n" line
/// ends; written atomically, so a crash never leaves half a table.
/// </summary>
public static class Csv
{
    public static void Write(string path, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        var text = new StringBuilder();
        AppendRow(text, header);
        foreach (var row in rows) AppendRow(text, row);
        IO.AtomicFile.WriteAllBytes(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text.ToString()));
    }

    public static void AppendRow(StringBuilder text, IReadOnlyList<string> fields)
    {
        for (int i = 0; i < fields.Count; i++)
        {
            if (i > 0) text.Append(',');
            text.Append(Quote(fields[i]));
        }
        text.Append('\n');
    }

    public static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") < 0 ? field : $"\"{field.Replace("\"", "\"\"")}\"";

    /// <summary>RFC 4180 records: fields split at commas, a field that starts with a quote runs to the matching quote
    /// (a doubled quote inside is one quote; commas and line breaks inside are text). Each record comes with the
    /// line it starts on.</summary>
    public static IEnumerable<(List<string> Fields, int Line)> Records(string file, string text)
    {
        int pos = 0, line = 1;
        while (pos < text.Length)
        {
            int start = line;
            var fields = new List<string>();
            var field = new StringBuilder();
            while (true)
            {
                if (pos < text.Length && text[pos] == '"')
                {
                    pos++;
                    while (true)
                    {
                        if (pos >= text.Length) throw new DataException($"{file} line {start}: a quoted field is not closed");
                        char c = text[pos++];
                        if (c == '"')
                        {
                            if (pos < text.Length && text[pos] == '"') { field.Append('"'); pos++; }
                            else break;
                        }
                        else
                        {
                            if (c == '\n') line++;
                            field.Append(c);
                        }
                    }
                    if (pos < text.Length && text[pos] is not (',' or '\r' or '\n'))
                        throw new DataException($"{file} line {line}: '{text[pos]}' after a closing quote (a quote inside a quoted field is written twice)");
                }
                else
                {
                    while (pos < text.Length && text[pos] is not (',' or '\r' or '\n'))
                    {
                        if (text[pos] == '"') throw new DataException($"{file} line {line}: a quote inside an unquoted field (quote the field and write the quote twice)");
                        field.Append(text[pos++]);
                    }
                }
                fields.Add(field.ToString());
                field.Clear();
                if (pos < text.Length && text[pos] == ',') { pos++; continue; }
                break;
            }
            // End of the record: \n, \r\n, a lone \r, or the end of the text.
            if (pos < text.Length && text[pos] == '\r') pos++;
            if (pos < text.Length && text[pos] == '\n') pos++;
            line++;
            yield return (fields, start);
        }
    }
}

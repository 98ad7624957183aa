using System.Globalization;
using System.Text;

namespace Smile.Data;

/// <summary>
/// Writes a dataset as an image list ("path label" lines, <see cref="ImageListFile"/>) and its class names
/// (<see cref="ClassNamesFile"/>), each file atomically. Paths are written relative to the list's folder, so the list
/// reads back without a data root. A path or name the reader would read differently (a line break in it, spaces at
/// either end) is refused.
/// </summary>
public static class ImageListWriter
{
    /// <summary>The samples of <paramref name="data"/> in its order (by label, then path).</summary>
    public static void WriteList(string path, ImageFolder data)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var text = new StringBuilder();
        foreach (var sample in data.Samples)
        {
            string relative = Path.GetRelativePath(folder, sample.Path);
            Require(relative, "image path", sample.Path);
            text.Append(relative).Append(' ').Append(sample.Label.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
        Write(path, text);
    }

    /// <summary>One name a line: line i + 1 names label i.</summary>
    public static void WriteClasses(string path, IReadOnlyList<string> classes)
    {
        var text = new StringBuilder();
        foreach (var name in classes)
        {
            Require(name, "class name", name);
            text.Append(name).Append('\n');
        }
        Write(path, text);
    }

    private static void Require(string text, string what, string shown)
    {
        if (text.Length == 0 || text.AsSpan().IndexOfAny('\n', '\r') >= 0 || char.IsWhiteSpace(text[0]) || char.IsWhiteSpace(text[^1]))
            throw new DataException($"{shown}: this {what} cannot be written in a list file (empty, a line break in it, or spaces at either end)");
    }

    private static void Write(string path, StringBuilder text) =>
        IO.AtomicFile.WriteAllBytes(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text.ToString()));
}

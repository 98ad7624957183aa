namespace Smile.Data;

/// <summary>
/// The class names of an image list, one a line: the first line names label 0, the second label 1, and so on.
/// Because the position is the label, a blank line inside the file is an error (skipping it would shift every
/// later label); blank lines at the end (an editor's final newline) are not. Names are trimmed, must be unique, and
/// every problem names the file and line.
/// </summary>
public sealed class ClassNamesFile
{
    private readonly Dictionary<string, int> _labelOf;

    public string Path { get; }
    /// <summary>The names; the index of a name is its label (its line is the index + 1).</summary>
    public IReadOnlyList<string> Names { get; }

    private ClassNamesFile(string path, List<string> names)
    {
        Path = path;
        Names = names;
        _labelOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++) _labelOf[names[i]] = i;
    }

    public static ClassNamesFile Read(string path)
    {
        var lines = ImageListText.Lines(path);
        int count = lines.Length;
        while (count > 0 && string.IsNullOrWhiteSpace(lines[count - 1])) count--;
        if (count == 0) throw new DataException($"{path}: no class names (one a line: the first line names label 0)");
        var names = new List<string>(count);
        var lineOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            string name = lines[i].Trim();
            if (name.Length == 0)
                throw new DataException($"{path} line {i + 1}: empty class name (line i names label i - 1, so a blank line would shift every later label)");
            if (!lineOf.TryAdd(name, i + 1))
                throw new DataException($"{path} line {i + 1}: class '{name}' is listed twice (first on line {lineOf[name]})");
            names.Add(name);
        }
        return new ClassNamesFile(path, names);
    }

    public bool TryLabelOf(string name, out int label) => _labelOf.TryGetValue(name, out label);

    /// <summary>" (did you mean 'X'? ...)" when a listed name differs from <paramref name="name"/> only by case.</summary>
    public static string CaseHint(IEnumerable<string> names, string name)
    {
        var near = names.FirstOrDefault(c => string.Equals(c, name, StringComparison.OrdinalIgnoreCase));
        return near is null ? "" : $" (did you mean '{near}'? class names are case-sensitive)";
    }
}

namespace Smile.Data.Prepare;

/// <summary>
/// A list of class folder names, one a line, as the user writes it for a base/novel split: blank lines are
/// skipped, and so is a comment, a '#' that starts a line or follows a space or tab ("004.Groove_billed_Ani  #
/// a cuckoo"; a '#' inside a name stays). Every problem is reported as <c>path:line: ...</c>.
/// </summary>
public sealed class ClassListFile
{
    private readonly Dictionary<string, int> _lineOf;

    public string Path { get; }
    /// <summary>The names in the file's order.</summary>
    public IReadOnlyList<string> Names { get; }

    private ClassListFile(string path, List<string> names, Dictionary<string, int> lineOf)
    {
        Path = path;
        Names = names;
        _lineOf = lineOf;
    }

    public static ClassListFile Read(string path)
    {
        var names = new List<string>();
        var lineOf = new Dictionary<string, int>(StringComparer.Ordinal);
        int number = 0;
        foreach (string text in IdValueFile.ReadLines(path))
        {
            number++;
            string name = WithoutComment(text).Trim();
            if (name.Length == 0) continue;
            if (!lineOf.TryAdd(name, number))
                throw new DataException($"{path}:{number}: class '{name}' is listed twice (first on line {lineOf[name]})");
            names.Add(name);
        }
        if (names.Count == 0) throw new DataException($"{path}: the class list is empty");
        return new ClassListFile(path, names, lineOf);
    }

    public bool Contains(string name) => _lineOf.ContainsKey(name);

    /// <summary>The 1-based line of a listed class.</summary>
    public int LineOf(string name) => _lineOf[name];

    /// <summary>A problem with a listed class, as one line naming the file and the class's line.</summary>
    public DataException Error(string name, string message) => new($"{Path}:{_lineOf[name]}: {message}");

    /// <summary>Every name is one of <paramref name="classes"/> (the folders of <paramref name="folder"/>); the first that is not is named.</summary>
    public void RequireAllIn(IReadOnlyList<string> classes, string folder)
    {
        var known = classes.ToHashSet(StringComparer.Ordinal);
        foreach (var name in Names)
        {
            if (known.Contains(name)) continue;
            var near = classes.FirstOrDefault(c => string.Equals(c, name, StringComparison.OrdinalIgnoreCase));
            var hint = near is null ? "" : $" (did you mean '{near}'? class names are case-sensitive)";
            throw Error(name, $"class '{name}' is not a class folder of {folder}{hint}");
        }
    }

    private static string WithoutComment(string line)
    {
        for (int i = 0; i < line.Length; i++)
            if (line[i] == '#' && (i == 0 || line[i - 1] is ' ' or '\t')) return line[..i];
        return line;
    }
}

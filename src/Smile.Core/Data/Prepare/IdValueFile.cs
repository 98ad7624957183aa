namespace Smile.Data.Prepare;

/// <summary>One line of an <see cref="IdValueFile"/>: the id, the rest of the line, and its 1-based line number.</summary>
public readonly record struct IdValueLine(string Id, string Value, int Line);

/// <summary>
/// The "&lt;id&gt; &lt;value&gt;" index files of CUB-200-2011 and FGVC-Aircraft: the id is the first token, the value the
/// rest of the line (FGVC class names contain spaces). Ids are unique within a file. Every problem is reported
/// as <c>path:line: ...</c> so that the user can open the file at the line.
/// </summary>
public sealed class IdValueFile
{
    private readonly Dictionary<string, IdValueLine> _byId;

    public string Path { get; }
    public IReadOnlyList<IdValueLine> Lines { get; }

    private IdValueFile(string path, List<IdValueLine> lines, Dictionary<string, IdValueLine> byId)
    {
        Path = path;
        Lines = lines;
        _byId = byId;
    }

    public static IdValueFile Read(string path)
    {
        var lines = new List<IdValueLine>();
        var byId = new Dictionary<string, IdValueLine>(StringComparer.Ordinal);
        int number = 0;
        foreach (string text in ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(text)) continue; // an editor's extra final newline carries nothing
            int gap = text.IndexOfAny([' ', '\t']);
            string id = gap < 0 ? text : text[..gap];
            string value = gap < 0 ? "" : text[(gap + 1)..].Trim();
            if (id.Length == 0 || value.Length == 0)
                throw new DataException($"{path}:{number}: malformed line, expected '<id> <value>': '{Shorten(text)}'");
            var line = new IdValueLine(id, value, number);
            if (!byId.TryAdd(id, line))
                throw new DataException($"{path}:{number}: duplicate id {id} (first on line {byId[id].Line})");
            lines.Add(line);
        }
        return new IdValueFile(path, lines, byId);
    }

    public bool TryGet(string id, out IdValueLine line) => _byId.TryGetValue(id, out line);

    /// <summary>A problem at a line of this file, as one line naming it.</summary>
    public DataException Error(int line, string message) => new($"{Path}:{line}: {message}");

    /// <summary>Every id of this file has a line in <paramref name="other"/> and the other way round; the first one missing is named with its line.</summary>
    public void RequireSameIds(IdValueFile other)
    {
        foreach (var line in Lines)
            if (!other.TryGet(line.Id, out _)) throw Error(line.Line, $"id {line.Id} has no line in {other.Path}");
        foreach (var line in other.Lines)
            if (!TryGet(line.Id, out _)) throw other.Error(line.Line, $"id {line.Id} has no line in {Path}");
    }

    internal static IEnumerable<string> ReadLines(string path)
    {
        if (!File.Exists(path)) throw new DataException($"{path}: file not found");
        try { return File.ReadAllLines(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new DataException($"{path}: cannot read ({e.Message})"); }
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..77] + "...";
}

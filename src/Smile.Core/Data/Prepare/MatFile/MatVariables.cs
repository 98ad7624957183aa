namespace Smile.Data.Prepare.MatFile;

/// <summary>The named variables of one MAT-file; lookups that fail name the file, as errors in user data must.</summary>
public sealed class MatVariables
{
    private readonly IReadOnlyDictionary<string, MatValue> _variables;

    internal MatVariables(string path, IReadOnlyDictionary<string, MatValue> variables)
    {
        Path = path;
        _variables = variables;
    }

    public string Path { get; }

    public IReadOnlyCollection<string> Names => _variables.Keys.Order(StringComparer.Ordinal).ToArray();

    public bool Contains(string name) => _variables.ContainsKey(name);

    public MatValue this[string name] => _variables.TryGetValue(name, out var value) ? value
        : throw new DataException($"{Path}: no variable '{name}' (it holds: {(_variables.Count == 0 ? "nothing" : string.Join(", ", Names))})");

    /// <summary>The variable, which must be of class <typeparamref name="T"/>.</summary>
    public T Get<T>(string name) where T : MatValue
    {
        var value = this[name];
        return value as T ?? throw new DataException($"{Path}: variable '{name}' is a {value.Describe()} array, expected {Expected<T>()}");
    }

    private static string Expected<T>() => typeof(T).Name switch
    {
        nameof(MatStruct) => "a struct array",
        nameof(MatCell) => "a cell array",
        nameof(MatChar) => "a char array",
        _ => "a numeric array",
    };
}

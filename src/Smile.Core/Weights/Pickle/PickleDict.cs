namespace Smile.Weights.Pickle;

/// <summary>A pickled dict or OrderedDict: keeps insertion order (a state dict's order is the file's),
/// and a later SETITEM on an existing key replaces the value in place, as in Python.</summary>
internal sealed class PickleDict
{
    private readonly List<KeyValuePair<object?, object?>> _entries = [];
    private readonly Dictionary<object, int> _index = [];

    public int Count => _entries.Count;

    public IReadOnlyList<KeyValuePair<object?, object?>> Entries => _entries;

    public void Set(object? key, object? value)
    {
        // Only the scalar key types Python hashes by value are indexed; anything else (a tuple key, say)
        // is simply appended, which is all a state dict reader needs.
        if (key is string or long or bool or double or System.Numerics.BigInteger)
        {
            if (_index.TryGetValue(key, out var at)) { _entries[at] = new(key, value); return; }
            _index[key] = _entries.Count;
        }
        _entries.Add(new(key, value));
    }

    public bool TryGet(string key, out object? value)
    {
        if (_index.TryGetValue(key, out var at)) { value = _entries[at].Value; return true; }
        value = null;
        return false;
    }
}

namespace Smile.Data.Prepare.MatFile;

/// <summary>
/// One MATLAB array read from a MAT-file. Elements are in MATLAB's column-major order, so index i of a
/// 1xN array (the shape the devkits use) is MATLAB's element i+1.
/// </summary>
public abstract class MatValue
{
    private protected MatValue(IReadOnlyList<int> dims)
    {
        Dims = dims;
        long count = 1;
        foreach (int d in dims) count *= d;
        Count = checked((int)count);
    }

    /// <summary>The dimensions, at least two (a scalar is 1x1).</summary>
    public IReadOnlyList<int> Dims { get; }

    /// <summary>The number of elements, the product of <see cref="Dims"/>.</summary>
    public int Count { get; }

    /// <summary>MATLAB's class name: "double", "logical", "char", "cell", "struct" ...</summary>
    public abstract string ClassName { get; }

    /// <summary>"1x196 cell": what error messages show of a value.</summary>
    public string Describe() => $"{string.Join('x', Dims)} {ClassName}";

    public override string ToString() => Describe();
}

/// <summary>A numeric or logical array. Every class is widened to double (int64 and uint64 beyond 2^53 round).</summary>
public sealed class MatNumeric(IReadOnlyList<int> dims, string className, double[] values) : MatValue(dims)
{
    public override string ClassName => className;

    public IReadOnlyList<double> Values => values;

    public double this[int index] => values[index];
}

/// <summary>A char array; a 1xN char is one string (<see cref="Text"/>), an MxN char holds M rows.</summary>
public sealed class MatChar(IReadOnlyList<int> dims, IReadOnlyList<string> rows) : MatValue(dims)
{
    public override string ClassName => "char";

    public IReadOnlyList<string> Rows => rows;

    /// <summary>The rows joined by '\n': the string of a 1xN char, "" for an empty one.</summary>
    public string Text => string.Join('\n', rows);
}

/// <summary>A cell array: each element is an array of any class.</summary>
public sealed class MatCell(IReadOnlyList<int> dims, IReadOnlyList<MatValue> items) : MatValue(dims)
{
    public override string ClassName => "cell";

    public IReadOnlyList<MatValue> Items => items;

    public MatValue this[int index] => items[index];
}

/// <summary>A struct array: every element has the same fields, each holding an array of any class.</summary>
public sealed class MatStruct : MatValue
{
    private readonly MatValue[] _values; // element-major: element i's fields are at i * FieldNames.Count
    private readonly Dictionary<string, int> _fieldIndex;

    internal MatStruct(IReadOnlyList<int> dims, IReadOnlyList<string> fieldNames, MatValue[] values) : base(dims)
    {
        FieldNames = fieldNames;
        _values = values;
        _fieldIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int f = 0; f < fieldNames.Count; f++) _fieldIndex.TryAdd(fieldNames[f], f);
    }

    public override string ClassName => "struct";

    public IReadOnlyList<string> FieldNames { get; }

    public bool HasField(string name) => _fieldIndex.ContainsKey(name);

    /// <summary>Field <paramref name="field"/> of element <paramref name="index"/> (MATLAB's s(index+1).field).</summary>
    public MatValue this[int index, string field]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            if (!_fieldIndex.TryGetValue(field, out int f))
                throw new KeyNotFoundException($"struct has no field '{field}' (fields: {string.Join(", ", FieldNames)})");
            return _values[index * FieldNames.Count + f];
        }
    }
}

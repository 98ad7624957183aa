using System.Buffers.Binary;

namespace Smile.Data.Prepare.MatFile;

/// <summary>One data element: its data type and where its data lies in the cursor's buffer.</summary>
internal readonly record struct MatElement(int Type, int Offset, int Length, int TagOffset);

/// <summary>
/// Walks the data elements of a little-endian MAT-file level 5 byte range: the 8-byte tag (type, size) or the
/// small data element format (size and type packed in 4 bytes, then up to 4 data bytes), and the padding to
/// 8 bytes after regular elements. Every size is checked against the bytes that remain, so a truncated or
/// corrupt file ends in a <see cref="DataException"/> naming it, never an index error.
/// </summary>
internal sealed class MatCursor
{
    private readonly byte[] _data;
    private readonly int _end;
    private readonly string _path;
    private readonly string _where; // "" in the file itself, " of the compressed element at byte N" inside one

    public MatCursor(byte[] data, int start, int end, string path, string where)
    {
        _data = data;
        Position = start;
        _end = end;
        _path = path;
        _where = where;
    }

    public int Position { get; private set; }

    public int Remaining => _end - Position;

    public bool AtEnd => Position >= _end;

    public DataException Fail(string detail) => new($"{_path}: malformed MAT-file: {detail}{_where}");

    public DataException Unsupported(string detail) => new($"{_path}: {detail}{_where}, which Smile's MAT-file reader does not support");

    /// <summary>Reads the next element's tag and moves past its data and padding.</summary>
    public MatElement Next()
    {
        int tag = Position;
        if (Remaining < 8) throw Fail($"the data element at byte {tag} is cut off ({Remaining} of its 8 tag bytes)");
        uint first = BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(tag));
        if (first >> 16 != 0)
        {
            int smallType = (int)(first & 0xFFFF), smallLength = (int)(first >> 16);
            if (smallLength > 4) throw Fail($"the small data element at byte {tag} claims {smallLength} bytes (at most 4 fit)");
            Position = tag + 8;
            return new MatElement(smallType, tag + 4, smallLength, tag);
        }
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(tag + 4));
        int offset = tag + 8;
        if (size > (uint)(_end - offset))
            throw Fail($"the {MiType.Name((int)first)} element at byte {tag} claims {size} bytes but only {_end - offset} remain");
        // MATLAB pads every regular element to 8 bytes except a miCOMPRESSED one (its size is the zlib stream's).
        long next = first == MiType.Compressed ? offset + (long)size : Math.Min(_end, offset + ((size + 7L) & ~7L));
        Position = (int)next;
        return new MatElement((int)first, offset, (int)size, tag);
    }

    /// <summary>Reads the next element and checks that it has the given type.</summary>
    public MatElement Next(int expectedType, string what)
    {
        var element = Next();
        if (element.Type != expectedType)
            throw Fail($"expected the {what} ({MiType.Name(expectedType)}) at byte {element.TagOffset}, found {MiType.Name(element.Type)}");
        return element;
    }

    public ReadOnlySpan<byte> Bytes(MatElement element) => _data.AsSpan(element.Offset, element.Length);

    /// <summary>A cursor over the data of one element (the sub-elements of a miMATRIX).</summary>
    public MatCursor Inside(MatElement element) => new(_data, element.Offset, element.Offset + element.Length, _path, _where);

    /// <summary>The values of a numeric element of any data type, widened to double.</summary>
    public double[] Numbers(MatElement element, string what)
    {
        int size = MiType.Size(element.Type);
        if (size == 0) throw Fail($"the {what} at byte {element.TagOffset} is {MiType.Name(element.Type)}, not numbers");
        if (element.Length % size != 0)
            throw Fail($"the {what} at byte {element.TagOffset} has {element.Length} bytes, not a whole number of {MiType.Name(element.Type)} values");
        var bytes = Bytes(element);
        var values = new double[element.Length / size];
        for (int i = 0; i < values.Length; i++)
        {
            var b = bytes.Slice(i * size, size);
            values[i] = element.Type switch
            {
                MiType.Int8 => (sbyte)b[0],
                MiType.UInt8 => b[0],
                MiType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(b),
                MiType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(b),
                MiType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(b),
                MiType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(b),
                MiType.Single => BinaryPrimitives.ReadSingleLittleEndian(b),
                MiType.Double => BinaryPrimitives.ReadDoubleLittleEndian(b),
                MiType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(b),
                _ => BinaryPrimitives.ReadUInt64LittleEndian(b),
            };
        }
        return values;
    }
}

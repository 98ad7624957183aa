using System.Buffers.Binary;
using System.Text;

namespace Smile.Data.Prepare.MatFile;

/// <summary>
/// Reads one miMATRIX element: array flags (class, complex and logical bits), dimensions, array name, then the
/// class's data: real part (numeric, logical), characters (char), one miMATRIX per element (cell), or the
/// field names and one miMATRIX per element and field (struct). Sparse, complex and object arrays are refused.
/// </summary>
internal static class MatArrayReader
{
    // Each level of nesting costs a recursion; a crafted file must not overflow the stack.
    private const int MaxDepth = 64;

    private static readonly Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private static readonly Encoding Utf32 = new UTF32Encoding(bigEndian: false, byteOrderMark: false, throwOnInvalidCharacters: true);

    public static (string Name, MatValue Value) Read(MatCursor outer, MatElement matrix, int depth = 0)
    {
        if (depth > MaxDepth) throw outer.Fail($"arrays nested more than {MaxDepth} deep at byte {matrix.TagOffset}");
        // A miMATRIX without sub-elements is an empty array (MATLAB writes unset cells and struct fields this way).
        if (matrix.Length == 0) return ("", new MatNumeric([0, 0], "double", []));

        var c = outer.Inside(matrix);
        var flags = c.Next(MiType.UInt32, "array flags");
        if (flags.Length < 4) throw c.Fail($"the array flags at byte {flags.TagOffset} hold {flags.Length} bytes, not 8");
        uint word = BinaryPrimitives.ReadUInt32LittleEndian(c.Bytes(flags));
        int mxClass = (int)(word & 0xFF);
        bool complex = (word & 0x0800) != 0, logical = (word & 0x0200) != 0;
        int[] dims = ReadDims(c);
        string name = Ascii(c.Bytes(c.Next(MiType.Int8, "array name")));
        string what = name.Length > 0 ? $"variable '{name}'" : $"the array at byte {matrix.TagOffset}";

        if (mxClass is MxClass.Sparse or MxClass.Object or MxClass.Function or MxClass.Opaque)
            throw c.Unsupported($"{what} is a {MxClass.Name(mxClass)} array");
        if (complex) throw c.Unsupported($"{what} is complex");

        int count = Count(c, dims, what);
        MatValue value = mxClass switch
        {
            MxClass.Char => ReadChar(c, dims, count, what),
            MxClass.Cell => ReadCell(c, dims, count, what, depth),
            MxClass.Struct => ReadStruct(c, dims, count, what, depth),
            _ when MxClass.NumericName(mxClass) is { } numeric => ReadNumeric(c, dims, count, logical ? "logical" : numeric, what),
            _ => throw c.Fail($"{what} has {MxClass.Name(mxClass)}"),
        };
        return (name, value);
    }

    private static int[] ReadDims(MatCursor c)
    {
        var element = c.Next(MiType.Int32, "dimensions");
        var values = c.Numbers(element, "dimensions");
        if (values.Length < 2 || values.Any(d => d < 0))
            throw c.Fail($"the dimensions at byte {element.TagOffset} are [{string.Join(' ', values)}] (at least two, none negative)");
        return values.Select(d => (int)d).ToArray();
    }

    private static int Count(MatCursor c, int[] dims, string what)
    {
        long count = 1;
        foreach (int d in dims)
        {
            count *= d;
            if (count > int.MaxValue) throw c.Fail($"{what} has dimensions {string.Join('x', dims)}, too many elements");
        }
        return (int)count;
    }

    private static MatNumeric ReadNumeric(MatCursor c, int[] dims, int count, string className, string what)
    {
        // MATLAB stores values in the smallest data type that holds them exactly (a double array of small
        // integers as miUINT8), so the data type of the real part need not match the class.
        var values = c.Numbers(c.Next(), $"data of {what}");
        if (values.Length != count)
            throw c.Fail($"{what} holds {values.Length} values but its dimensions {string.Join('x', dims)} say {count}");
        return new MatNumeric(dims, className, values);
    }

    private static MatChar ReadChar(MatCursor c, int[] dims, int count, string what)
    {
        var element = c.Next();
        var bytes = c.Bytes(element);
        string text;
        try
        {
            text = element.Type switch
            {
                MiType.Utf8 => Utf8.GetString(bytes),
                MiType.Utf32 => Utf32.GetString(bytes),
                // UTF-16 code units one by one: a MATLAB char is a code unit, and a lone surrogate must survive.
                MiType.UInt16 or MiType.Utf16 when bytes.Length % 2 == 0 => CodeUnits(bytes),
                MiType.UInt8 or MiType.Int8 => Encoding.Latin1.GetString(bytes),
                _ => throw c.Fail($"the characters of {what} are stored as {MiType.Name(element.Type)} ({element.Length} bytes)"),
            };
        }
        catch (DecoderFallbackException) { throw c.Fail($"the characters of {what} are not valid {MiType.Name(element.Type)}"); }
        if (text.Length != count)
            throw c.Fail($"{what} holds {text.Length} characters but its dimensions {string.Join('x', dims)} say {count}");

        // Column-major: row r is characters r, r + rows, r + 2 rows ...
        int rows = dims[0], columns = rows == 0 ? 0 : count / rows;
        var lines = new string[rows];
        for (int r = 0; r < rows; r++)
        {
            var line = new char[columns];
            for (int j = 0; j < columns; j++) line[j] = text[r + j * rows];
            lines[r] = new string(line);
        }
        return new MatChar(dims, lines);
    }

    private static MatCell ReadCell(MatCursor c, int[] dims, int count, string what, int depth)
    {
        CheckRoom(c, count, what);
        var items = new MatValue[count];
        for (int i = 0; i < count; i++)
            items[i] = Read(c, c.Next(MiType.Matrix, $"element {i + 1} of {what}"), depth + 1).Value;
        return new MatCell(dims, items);
    }

    private static MatStruct ReadStruct(MatCursor c, int[] dims, int count, string what, int depth)
    {
        var lengthElement = c.Next(MiType.Int32, "field name length");
        var length = c.Numbers(lengthElement, "field name length");
        if (length.Length != 1 || length[0] < 1)
            throw c.Fail($"the field name length of {what} is [{string.Join(' ', length)}]");
        int nameLength = (int)length[0];
        var namesElement = c.Next(MiType.Int8, "field names");
        if (namesElement.Length % nameLength != 0)
            throw c.Fail($"the field names of {what} take {namesElement.Length} bytes, not a multiple of the name length {nameLength}");
        var names = new string[namesElement.Length / nameLength];
        for (int f = 0; f < names.Length; f++)
            names[f] = Ascii(c.Bytes(namesElement).Slice(f * nameLength, nameLength));
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Length)
            throw c.Fail($"{what} has a field name twice ({string.Join(", ", names)})");

        CheckRoom(c, (long)count * names.Length, what);
        var values = new MatValue[count * names.Length];
        for (int i = 0; i < count; i++)
            for (int f = 0; f < names.Length; f++)
                values[i * names.Length + f] = Read(c, c.Next(MiType.Matrix, $"field {names[f]} of element {i + 1} of {what}"), depth + 1).Value;
        return new MatStruct(dims, names, values);
    }

    // Each element is at least an 8-byte tag: checked before allocating, so corrupt dimensions cannot ask for gigabytes.
    private static void CheckRoom(MatCursor c, long elements, string what)
    {
        if (elements * 8 > c.Remaining)
            throw c.Fail($"{what} claims {elements} elements but only {c.Remaining} bytes remain");
    }

    private static string CodeUnits(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length / 2];
        for (int i = 0; i < chars.Length; i++) chars[i] = (char)BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]);
        return new string(chars);
    }

    // Names are ASCII, padded with NULs to a fixed length (field names) or to the element's size.
    private static string Ascii(ReadOnlySpan<byte> bytes)
    {
        int end = bytes.IndexOf((byte)0);
        return Encoding.Latin1.GetString(end < 0 ? bytes : bytes[..end]);
    }
}

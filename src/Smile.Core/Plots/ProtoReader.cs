using System.Buffers.Binary;

namespace Smile.Plots;

/// <summary>
/// The protobuf wire format, just enough to walk a message field by field and skip what is not wanted (the event
/// reader needs four fields; a generated parser would pull in TensorBoard's whole schema). Malformed input is a
/// <see cref="FormatException"/>, never a read past the end.
/// </summary>
internal ref struct ProtoReader(ReadOnlySpan<byte> data)
{
    public const int VarintWire = 0, Fixed64Wire = 1, BytesWire = 2, Fixed32Wire = 5;

    private readonly ReadOnlySpan<byte> data = data;
    private int position;

    /// <summary>Reads the next field's key; false at the end of the message.</summary>
    public bool Next(out int field, out int wire)
    {
        field = wire = 0;
        if (position >= data.Length) return false;
        ulong key = Varint();
        wire = (int)(key & 7);
        ulong number = key >> 3;
        if (number == 0 || number > int.MaxValue) throw new FormatException($"field number {number} is not valid");
        field = (int)number;
        return true;
    }

    public ulong Varint()
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (position >= data.Length) throw new FormatException("a number runs past the end of its message");
            byte b = data[position++];
            result |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw new FormatException("a number is longer than 10 bytes");
    }

    public ulong Fixed64Value() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    public uint Fixed32Value() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public ReadOnlySpan<byte> Bytes()
    {
        ulong length = Varint();
        if (length > (ulong)(data.Length - position)) throw new FormatException("a field runs past the end of its message");
        return Take((int)length);
    }

    public void Skip(int wire)
    {
        switch (wire)
        {
            case VarintWire: Varint(); break;
            case Fixed64Wire: Take(8); break;
            case BytesWire: Bytes(); break;
            case Fixed32Wire: Take(4); break;
            // Groups (3, 4) are deprecated and not in TensorBoard's schema; 6 and 7 do not exist.
            default: throw new FormatException($"wire type {wire} is not expected");
        }
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > data.Length - position) throw new FormatException("a field runs past the end of its message");
        var slice = data.Slice(position, count);
        position += count;
        return slice;
    }
}

using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace Smile.Weights.Pickle;

/// <summary>
/// A from-scratch reader of the pickle opcodes that torch.save emits (protocols 2 to 5). It interprets the
/// opcode stream as data only: names, calls, BUILD and persistent ids are handed to an <see cref="IPickleHost"/>,
/// which decides what they mean, so nothing the file names is ever looked up or run by reflection.
/// Every length and index read from the stream is checked against the bytes actually there, so malformed
/// input ends in a <see cref="PickleException"/> saying what and where, never in an index error.
/// </summary>
/// <remarks>Values on the stack: null (None), bool, long (BigInteger beyond 64 bits), double, string,
/// byte[], object?[] (tuple), List&lt;object?&gt; (list), <see cref="PickleDict"/>, and the host's objects.</remarks>
internal sealed class Unpickler
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly byte[] _data;
    private readonly IPickleHost _host;
    private readonly List<object?> _stack = [];
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = [];
    private int _pos;
    private int _opcodeAt;

    private Unpickler(byte[] data, IPickleHost host)
    {
        _data = data;
        _host = host;
    }

    /// <summary>Runs the pickle in <paramref name="data"/> up to STOP and returns its result.</summary>
    public static object? Load(byte[] data, IPickleHost host) => new Unpickler(data, host).Run();

    private object? Run()
    {
        while (true)
        {
            if (_pos >= _data.Length)
                throw new PickleException($"pickle data ends at byte {_pos} without a STOP opcode (truncated file?)");
            _opcodeAt = _pos;
            var op = _data[_pos++];
            switch (op)
            {
                case 0x80: // PROTO
                    var protocol = ReadByte();
                    if (protocol > 5) throw Malformed($"unsupported pickle protocol {protocol}");
                    break;
                case 0x95: // FRAME: a length hint for buffered readers; we hold the whole stream anyway.
                    Take(8);
                    break;
                case (byte)'.': // STOP
                    var result = Pop();
                    if (_stack.Count != 0 || _marks.Count != 0) throw Malformed("STOP with data left on the stack");
                    return result;

                case (byte)'(': _marks.Push(_stack.Count); break; // MARK
                case (byte)'0': Pop(); break; // POP
                case (byte)'1': PopMark(); break; // POP_MARK
                case (byte)'2': Push(Peek()); break; // DUP

                case (byte)'N': Push(null); break; // NONE
                case 0x88: Push(true); break; // NEWTRUE
                case 0x89: Push(false); break; // NEWFALSE
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break; // BININT
                case (byte)'K': Push((long)ReadByte()); break; // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break; // BININT2
                case 0x8a: Push(ReadLong(ReadByte())); break; // LONG1
                case 0x8b: Push(ReadLong(ReadLength(BinaryPrimitives.ReadInt32LittleEndian(Take(4))))); break; // LONG4
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break; // BINFLOAT

                case (byte)'X': Push(ReadUtf8(ReadLength(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))))); break; // BINUNICODE
                case 0x8c: Push(ReadUtf8(ReadByte())); break; // SHORT_BINUNICODE
                case 0x8d: Push(ReadUtf8(ReadLength(BinaryPrimitives.ReadUInt64LittleEndian(Take(8))))); break; // BINUNICODE8
                // Python 2 byte strings; torch.load decodes them as UTF-8, and so do we.
                case (byte)'T': Push(ReadUtf8(ReadLength(BinaryPrimitives.ReadInt32LittleEndian(Take(4))))); break; // BINSTRING
                case (byte)'U': Push(ReadUtf8(ReadByte())); break; // SHORT_BINSTRING
                case (byte)'B': Push(Take(ReadLength(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))).ToArray()); break; // BINBYTES
                case (byte)'C': Push(Take(ReadByte()).ToArray()); break; // SHORT_BINBYTES
                case 0x8e: Push(Take(ReadLength(BinaryPrimitives.ReadUInt64LittleEndian(Take(8)))).ToArray()); break; // BINBYTES8

                case (byte)')': Push(Array.Empty<object?>()); break; // EMPTY_TUPLE
                case (byte)'t': Push(PopMark().ToArray()); break; // TUPLE
                case 0x85: Push(new[] { Pop() }); break; // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; } // TUPLE3
                case (byte)']': Push(new List<object?>()); break; // EMPTY_LIST
                case (byte)'l': Push(PopMark()); break; // LIST
                case (byte)'a': { var item = Pop(); PeekAs<List<object?>>("APPEND").Add(item); break; } // APPEND
                case (byte)'e': { var items = PopMark(); PeekAs<List<object?>>("APPENDS").AddRange(items); break; } // APPENDS
                case (byte)'}': Push(new PickleDict()); break; // EMPTY_DICT
                case (byte)'d': { var dict = new PickleDict(); SetItems(dict, PopMark()); Push(dict); break; } // DICT
                case (byte)'s': { var value = Pop(); var key = Pop(); PeekAs<PickleDict>("SETITEM").Set(key, value); break; } // SETITEM
                case (byte)'u': { var items = PopMark(); SetItems(PeekAs<PickleDict>("SETITEMS"), items); break; } // SETITEMS

                case (byte)'q': _memo[ReadByte()] = Peek(); break; // BINPUT
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = Peek(); break; // LONG_BINPUT
                case 0x94: _memo[_memo.Count] = Peek(); break; // MEMOIZE
                case (byte)'h': Push(MemoGet(ReadByte())); break; // BINGET
                case (byte)'j': Push(MemoGet(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break; // LONG_BINGET

                case (byte)'c': { var module = ReadLine(); var name = ReadLine(); Push(_host.ResolveGlobal(module, name)); break; } // GLOBAL
                case 0x93: // STACK_GLOBAL
                {
                    var name = Pop() as string ?? throw Malformed("STACK_GLOBAL needs a string name");
                    var module = Pop() as string ?? throw Malformed("STACK_GLOBAL needs a string module");
                    Push(_host.ResolveGlobal(module, name));
                    break;
                }
                case (byte)'R': { var args = PopTuple("REDUCE"); var callable = Pop(); Push(_host.Call(callable, args)); break; } // REDUCE
                case 0x81: { var args = PopTuple("NEWOBJ"); var cls = Pop(); Push(_host.New(cls, args)); break; } // NEWOBJ
                case (byte)'b': { var state = Pop(); _host.Build(Peek(), state); break; } // BUILD
                case (byte)'Q': Push(_host.PersistentLoad(Pop())); break; // BINPERSID

                default:
                    var shown = op is >= 0x20 and < 0x7f ? $" ('{(char)op}')" : "";
                    throw new PickleException($"unsupported pickle opcode 0x{op:x2}{shown} at byte {_opcodeAt} of data.pkl (not a PyTorch state dict?)");
            }
        }
    }

    private PickleException Malformed(string what) => new($"malformed pickle at byte {_opcodeAt} of data.pkl: {what}");

    private byte ReadByte() => Take(1)[0];

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _data.Length - _pos)
            throw new PickleException($"pickle data ends inside the opcode at byte {_opcodeAt} (truncated file?)");
        var span = _data.AsSpan(_pos, count);
        _pos += count;
        return span;
    }

    private int ReadLength(long length)
    {
        // Checked against what is left, so that a corrupt length cannot make us allocate gigabytes.
        if (length < 0 || length > _data.Length - _pos)
            throw Malformed($"length {length} runs past the end of the pickle data ({_data.Length - _pos} bytes left)");
        return (int)length;
    }

    private int ReadLength(ulong length) => ReadLength(length > long.MaxValue ? -1 : (long)length);

    private object ReadLong(int byteCount)
    {
        var value = new BigInteger(Take(byteCount), isUnsigned: false, isBigEndian: false);
        return value >= long.MinValue && value <= long.MaxValue ? (object)(long)value : value;
    }

    private string ReadUtf8(int byteCount)
    {
        try { return StrictUtf8.GetString(Take(byteCount)); }
        catch (DecoderFallbackException) { throw Malformed("a string is not valid UTF-8"); }
    }

    private string ReadLine()
    {
        var end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0) throw new PickleException($"pickle data ends inside the opcode at byte {_opcodeAt} (truncated file?)");
        var line = ReadUtf8(end - _pos);
        _pos++; // the newline
        return line;
    }

    private void Push(object? value) => _stack.Add(value);

    /// <summary>The stack below the innermost MARK belongs to an outer construct and is not poppable.</summary>
    private int Floor => _marks.Count > 0 ? _marks.Peek() : 0;

    private object? Peek()
    {
        if (_stack.Count <= Floor) throw Malformed("stack underflow");
        return _stack[^1];
    }

    private T PeekAs<T>(string opcode) where T : class =>
        Peek() as T ?? throw Malformed($"{opcode} on a {Describe(Peek())}");

    private object? Pop()
    {
        var value = Peek();
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Malformed("no MARK to pop to");
        var mark = _marks.Pop();
        var items = _stack.GetRange(mark, _stack.Count - mark);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    private object?[] PopTuple(string opcode) =>
        Pop() as object?[] ?? throw Malformed($"{opcode} needs an argument tuple");

    private void SetItems(PickleDict dict, List<object?> items)
    {
        if (items.Count % 2 != 0) throw Malformed("odd number of items for a dict");
        for (var i = 0; i < items.Count; i += 2) dict.Set(items[i], items[i + 1]);
    }

    private object? MemoGet(long index) =>
        _memo.TryGetValue(index, out var value) ? value : throw Malformed($"memo entry {index} was never stored");

    /// <summary>A Python-ish type name for error messages.</summary>
    public static string Describe(object? value) => value switch
    {
        null => "None",
        bool => "bool",
        long or BigInteger => "int",
        double => "float",
        string => "str",
        byte[] => "bytes",
        object?[] => "tuple",
        List<object?> => "list",
        PickleDict => "dict",
        _ => value.ToString() ?? value.GetType().Name,
    };
}

using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Smile.Tests.Weights;

/// <summary>Hand-made torch.save-like archives and pickles, for the malformed cases PyTorch never writes.</summary>
internal static class CraftedPth
{
    /// <summary>A zip with the given entries (name to bytes), stored uncompressed like torch.save does.</summary>
    public static void WriteZip(string path, params (string Name, byte[] Bytes)[] entries)
    {
        using var file = File.Create(path);
        using var zip = new ZipArchive(file, ZipArchiveMode.Create);
        foreach (var (name, bytes) in entries)
        {
            using var stream = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
            stream.Write(bytes);
        }
    }

    /// <summary>The protocol-2 pickle torch.save writes for {name: float32 tensor}, with a chosen storage
    /// (key "0", <paramref name="numel"/> elements) and view (offset, size, stride).</summary>
    public static byte[] SingleTensorPickle(string name, long numel, long offset, long[] size, long[] stride, string storageType = "FloatStorage")
    {
        var p = new List<byte> { 0x80, 2 };
        Global(p, "collections", "OrderedDict"); p.Add((byte)')'); p.Add((byte)'R');
        p.Add((byte)'(');
        Str(p, name);
        Global(p, "torch._utils", "_rebuild_tensor_v2");
        p.Add((byte)'(');
        p.Add((byte)'('); Str(p, "storage"); Global(p, "torch", storageType); Str(p, "0"); Str(p, "cpu"); Int(p, numel); p.Add((byte)'t');
        p.Add((byte)'Q');
        Int(p, offset);
        p.Add((byte)'('); foreach (var s in size) Int(p, s); p.Add((byte)'t');
        p.Add((byte)'('); foreach (var s in stride) Int(p, s); p.Add((byte)'t');
        p.Add(0x89);
        Global(p, "collections", "OrderedDict"); p.Add((byte)')'); p.Add((byte)'R');
        p.Add((byte)'t'); p.Add((byte)'R');
        p.Add((byte)'u');
        p.Add((byte)'.');
        return p.ToArray();
    }

    public static byte[] Floats(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    private static void Global(List<byte> p, string module, string name) => p.AddRange(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));

    private static void Str(List<byte> p, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        p.Add((byte)'X');
        p.AddRange(BitConverter.GetBytes((uint)bytes.Length)); // little-endian on every machine .NET runs these tests on
        p.AddRange(bytes);
    }

    private static void Int(List<byte> p, long value)
    {
        // LONG1 with 8 bytes works for any value, including negative and > 2^31 ones.
        p.Add(0x8a); p.Add(8);
        p.AddRange(BitConverter.GetBytes(value));
    }
}

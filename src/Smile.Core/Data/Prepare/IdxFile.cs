using System.IO.Compression;

namespace Smile.Data.Prepare;

/// <summary>The idx format of (Fashion-)MNIST: big-endian magic (0x0801 labels, 0x0803 images), dimensions, bytes.</summary>
public static class IdxFile
{
    public sealed class Images(byte[] data, int count, int rows, int columns)
    {
        public int Count => count;
        public int Rows => rows;
        public int Columns => columns;
        public ReadOnlySpan<byte> Pixels(int index) => data.AsSpan(16 + index * rows * columns, rows * columns);
    }

    public static Images ReadImages(string path)
    {
        byte[] data = ReadAll(path);
        CheckMagic(data, path, 0x0803);
        int count = BigEndian(data, 4), rows = BigEndian(data, 8), columns = BigEndian(data, 12);
        if (rows <= 0 || columns <= 0 || count < 0 || data.Length != 16L + (long)count * rows * columns)
            throw new DataException($"{path}: malformed idx image file ({count} images of {rows}x{columns} do not match its {data.Length} bytes)");
        return new Images(data, count, rows, columns);
    }

    public static byte[] ReadLabels(string path)
    {
        byte[] data = ReadAll(path);
        CheckMagic(data, path, 0x0801);
        int count = BigEndian(data, 4);
        if (count < 0 || data.Length != 8L + count)
            throw new DataException($"{path}: malformed idx label file ({count} labels do not match its {data.Length} bytes)");
        return data.AsSpan(8).ToArray();
    }

    private static byte[] ReadAll(string path)
    {
        try
        {
            using var file = File.OpenRead(path);
            using var stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? (Stream)new GZipStream(file, CompressionMode.Decompress) : file;
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            return memory.ToArray();
        }
        catch (InvalidDataException e) { throw new DataException($"{path}: not a valid gzip file ({e.Message})"); }
    }

    private static void CheckMagic(byte[] data, string path, int magic)
    {
        if (data.Length < 8 || BigEndian(data, 0) != magic)
            throw new DataException($"{path}: not an idx file of the expected kind (magic 0x{magic:X8})");
    }

    private static int BigEndian(byte[] data, int offset) =>
        data[offset] << 24 | data[offset + 1] << 16 | data[offset + 2] << 8 | data[offset + 3];
}

using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Smile.Tests.Data;

/// <summary>
/// Decompression bombs for the tests: an 8-bit grey PNG of one colour, written a row at a time, so a 20000x20000 image
/// (400 MB of grey, 1.6 GB once decoded to RGBA) costs a file of a few hundred kilobytes and never a whole image in
/// memory. Written by hand (signature, IHDR, one zlib IDAT, IEND, each chunk with its CRC) because an encoder would
/// need the pixels first.
/// </summary>
public static class HugePng
{
    public static void Write(string path, int width, int height, byte grey = 128)
    {
        using var file = File.Create(path);
        file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth; colour type 0 (grey), deflate, adaptive filtering, no interlace: the zeros after it
        WriteChunk(file, "IHDR", header);
        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var row = new byte[1 + width]; // filter byte 0 (none), then the row
            row.AsSpan(1).Fill(grey);
            for (int y = 0; y < height; y++) zlib.Write(row);
        }
        WriteChunk(file, "IDAT", compressed.ToArray());
        WriteChunk(file, "IEND", []);
    }

    private static void WriteChunk(Stream output, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        output.Write(typeBytes);
        output.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(typeBytes, data));
        output.Write(word);
    }

    /// <summary>The PNG chunk CRC (ISO 3309, reflected polynomial 0xEDB88320) of the type and data; libpng checks it.</summary>
    private static uint Crc32(byte[] type, byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (var part in new[] { type, data })
            foreach (byte b in part)
            {
                crc ^= b;
                for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
            }
        return ~crc;
    }
}

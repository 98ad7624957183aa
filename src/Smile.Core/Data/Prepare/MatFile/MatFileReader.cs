using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Smile.Data.Prepare.MatFile;

/// <summary>
/// Reads the variables of a MAT-file level 5 (MATLAB's -v6/-v7 format, and what scipy.io.savemat writes): the
/// 128-byte header, then one miMATRIX per variable, each possibly wrapped in a zlib-compressed miCOMPRESSED
/// element. Little-endian files only ("IM"); level 4 and HDF5-based -v7.3 files are refused with a clear error.
/// </summary>
public static class MatFileReader
{
    private const int HeaderLength = 128;

    public static MatVariables Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int end = CheckHeader(bytes, path);
        var variables = new Dictionary<string, MatValue>(StringComparer.Ordinal);
        ReadVariables(new MatCursor(bytes, HeaderLength, end, path, ""), path, variables, compressed: false);
        return new MatVariables(path, variables);
    }

    /// <summary>Checks the header and returns where the variables end (the subsystem data, if any, follows them).</summary>
    private static int CheckHeader(byte[] bytes, string path)
    {
        if (bytes.Length < HeaderLength)
            throw new DataException($"{path}: not a MAT-file ({bytes.Length} bytes, shorter than the {HeaderLength}-byte header)");
        string endian = Encoding.Latin1.GetString(bytes, 126, 2);
        if (endian == "MI")
            throw new DataException($"{path}: big-endian MAT-file (endian indicator 'MI'), which Smile's MAT-file reader does not support; save it again on a little-endian machine");
        if (endian != "IM")
            throw new DataException($"{path}: not a MAT-file level 5 (no endian indicator at byte 126; level 4 files are not supported)");
        int version = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(124));
        if (version == 0x0200)
            throw new DataException($"{path}: a MATLAB 7.3 (HDF5) MAT-file, which Smile's MAT-file reader does not support; save it with save(..., '-v7')");
        if (version != 0x0100)
            throw new DataException($"{path}: MAT-file version 0x{version:X4}, not 0x0100 (level 5)");

        // The subsystem data (MATLAB's store for objects and function handles, an undocumented format) sits after
        // the variables; its offset is 0 or all spaces when there is none.
        ulong subsystem = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(116));
        return subsystem is not 0 and not 0x2020202020202020 && subsystem > HeaderLength && subsystem < (ulong)bytes.Length
            ? (int)subsystem : bytes.Length;
    }

    private static void ReadVariables(MatCursor cursor, string path, Dictionary<string, MatValue> variables, bool compressed)
    {
        while (!cursor.AtEnd)
        {
            var element = cursor.Next();
            switch (element.Type)
            {
                case MiType.Matrix:
                    var (name, value) = MatArrayReader.Read(cursor, element);
                    if (name.Length > 0) variables[name] = value;
                    break;
                case MiType.Compressed when !compressed:
                    byte[] inflated = Inflate(cursor, element);
                    ReadVariables(new MatCursor(inflated, 0, inflated.Length, path, $" (inside the compressed element at byte {element.TagOffset})"), path, variables, compressed: true);
                    break;
                default:
                    throw cursor.Fail($"found {MiType.Name(element.Type)} at byte {element.TagOffset} where a variable (miMATRIX or miCOMPRESSED) should start");
            }
        }
    }

    private static byte[] Inflate(MatCursor cursor, MatElement element)
    {
        try
        {
            using var zlib = new ZLibStream(new MemoryStream(cursor.Bytes(element).ToArray()), CompressionMode.Decompress);
            using var inflated = new MemoryStream();
            zlib.CopyTo(inflated);
            return inflated.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw cursor.Fail($"the compressed element at byte {element.TagOffset} is not valid zlib data ({e.Message})");
        }
    }
}

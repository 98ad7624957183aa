using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using Smile.Data;

namespace Smile.Plots;

/// <summary>One <c>add_scalar</c> point: the step, the event's wall time and the value.</summary>
public readonly record struct ScalarPoint(long Step, double WallTime, float Value);

/// <summary>
/// Reads the scalars back from TensorBoard event files as TorchSharp's SummaryWriter writes them: TFRecord framing
/// (uint64 length, masked CRC32C of the length, an Event protobuf, masked CRC32C of it), little-endian.
/// Only Event.wall_time, Event.step and Event.summary.value[].{tag, simple_value} are read; everything else is
/// skipped by wire type. A bad checksum or malformed record is a <see cref="DataException"/> naming the file; an
/// incomplete last record is skipped, because the writer appends each record in three writes and a run that is
/// still training (or was killed) leaves one behind.
/// </summary>
public static class TensorBoardScalars
{
    /// <summary>The names the writer gives its files: <c>events.out.tfevents.{ticks}.{host}.{pid}.{n}</c>.</summary>
    public const string FilePattern = "events.out.tfevents.*";

    /// <summary>The scalar events of one file in file order, as (tag, point).</summary>
    public static IReadOnlyList<(string Tag, ScalarPoint Point)> ReadFile(string path)
    {
        byte[] bytes = ReadWhole(path);

        var scalars = new List<(string, ScalarPoint)>();
        int offset = 0, record = 0;
        while (offset < bytes.Length)
        {
            // Header: 8 bytes of length and 4 of its checksum; fewer left means the writer was cut off mid-record.
            if (bytes.Length - offset < 12) break;
            var lengthBytes = bytes.AsSpan(offset, 8);
            if (MaskedCrc32C(lengthBytes) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset + 8, 4)))
                throw Corrupt(path, record, offset, "the checksum of its length does not match");
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
            // Payload and footer past the end of the file: the last record, still being written.
            if (length > (ulong)(bytes.Length - offset - 12) || (ulong)(bytes.Length - offset - 12) - length < 4) break;
            var payload = bytes.AsSpan(offset + 12, (int)length);
            if (MaskedCrc32C(payload) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset + 12 + (int)length, 4)))
                throw Corrupt(path, record, offset, "the checksum of its contents does not match");
            try { ReadEvent(payload, scalars); }
            catch (FormatException e) { throw Corrupt(path, record, offset, e.Message); }
            offset += 12 + (int)length + 4;
            record++;
        }
        return scalars;
    }

    /// <summary>
    /// The scalars of every event file directly in <paramref name="folder"/> by tag, each sorted by step. A resumed
    /// run appends a new file and logs again the steps after its last checkpoint: files are read oldest first (the
    /// name holds the writer's clock ticks) and the later value of a step wins.
    /// </summary>
    public static SortedDictionary<string, ScalarPoint[]> ReadFolder(string folder)
    {
        var byTag = new Dictionary<string, SortedDictionary<long, ScalarPoint>>();
        foreach (var file in EventFiles(folder))
            foreach (var (tag, point) in ReadFile(file))
            {
                if (!byTag.TryGetValue(tag, out var steps)) byTag[tag] = steps = new SortedDictionary<long, ScalarPoint>();
                steps[point.Step] = point;
            }
        var result = new SortedDictionary<string, ScalarPoint[]>(StringComparer.Ordinal);
        foreach (var (tag, steps) in byTag) result[tag] = steps.Values.ToArray();
        return result;
    }

    /// <summary>The file's bytes. The writer opens the file exclusively for each record (a lock on Linux too): a read
    /// that meets it waits a moment and tries again.</summary>
    private static byte[] ReadWhole(string path)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                var bytes = new byte[stream.Length];
                int read = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
                return read == bytes.Length ? bytes : bytes[..read];
            }
            catch (IOException) when (attempt < 5 && File.Exists(path)) { Thread.Sleep(20 * attempt); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new DataException($"cannot read the event file {path}: {e.Message}");
            }
        }
    }

    /// <summary><paramref name="root"/> and every folder under it that directly holds an event file, in path order
    /// (a finetune --log_dir holds one such folder per regularizer).</summary>
    public static IReadOnlyList<string> RunFolders(string root) =>
        Directory.EnumerateFiles(root, FilePattern, SearchOption.AllDirectories)
            .Select(f => Path.GetDirectoryName(Path.GetFullPath(f))!)
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>The event files directly in <paramref name="folder"/>, oldest first.</summary>
    public static IReadOnlyList<string> EventFiles(string folder) =>
        Directory.EnumerateFiles(folder, FilePattern, SearchOption.TopDirectoryOnly)
            .OrderBy(f => WriterTicks(Path.GetFileName(f)))
            .ThenBy(f => f, StringComparer.Ordinal)
            .ToList();

    // events.out.tfevents.{ticks}...: a name from another writer (seconds since 1970) still sorts in time order.
    private static long WriterTicks(string name)
    {
        var parts = name.Split('.');
        return parts.Length > 3 && long.TryParse(parts[3], out long t) ? t : long.MaxValue;
    }

    private static DataException Corrupt(string path, int record, int offset, string why) =>
        new($"corrupt TensorBoard event file {path}: record {record} at byte {offset}: {why}");

    // Event: wall_time = 1 (double), step = 2 (int64), summary = 5 (Summary).
    private static void ReadEvent(ReadOnlySpan<byte> payload, List<(string, ScalarPoint)> into)
    {
        var reader = new ProtoReader(payload);
        double wallTime = 0;
        long step = 0;
        var values = new List<(string Tag, float Value)>();
        while (reader.Next(out int field, out int wire))
        {
            if (field == 1 && wire == ProtoReader.Fixed64Wire) wallTime = BitConverter.Int64BitsToDouble((long)reader.Fixed64Value());
            else if (field == 2 && wire == ProtoReader.VarintWire) step = (long)reader.Varint();
            else if (field == 5 && wire == ProtoReader.BytesWire) ReadSummary(reader.Bytes(), values);
            else reader.Skip(wire);
        }
        // Fields may come in any order, so the points are made once the whole event is read.
        foreach (var (tag, value) in values) into.Add((tag, new ScalarPoint(step, wallTime, value)));
    }

    // Summary: value = 1 (repeated Value); Value: tag = 1 (string), simple_value = 2 (float).
    private static void ReadSummary(ReadOnlySpan<byte> summary, List<(string, float)> into)
    {
        var reader = new ProtoReader(summary);
        while (reader.Next(out int field, out int wire))
        {
            if (field != 1 || wire != ProtoReader.BytesWire) { reader.Skip(wire); continue; }
            var value = new ProtoReader(reader.Bytes());
            string? tag = null;
            float? simple = null;
            while (value.Next(out int f, out int w))
            {
                if (f == 1 && w == ProtoReader.BytesWire) tag = DecodeUtf8(value.Bytes());
                else if (f == 2 && w == ProtoReader.Fixed32Wire) simple = BitConverter.Int32BitsToSingle((int)value.Fixed32Value());
                else value.Skip(w);
            }
            // A histogram, image or tensor value has no simple_value: not a scalar for these plots.
            if (tag is not null && simple is { } v) into.Add((tag, v));
        }
    }

    private static string DecodeUtf8(ReadOnlySpan<byte> bytes)
    {
        try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes); }
        catch (DecoderFallbackException) { throw new FormatException("a tag is not UTF-8"); }
    }

    /// <summary>TFRecord's checksum: CRC32C rotated right by 15 bits plus a constant.</summary>
    internal static uint MaskedCrc32C(ReadOnlySpan<byte> data)
    {
        uint crc = Crc32C(data);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }

    /// <summary>CRC-32C (Castagnoli) with the usual inversions; BitOperations uses the CPU's instruction where there is one.</summary>
    internal static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = ~0u;
        int i = 0;
        for (; i + 8 <= data.Length; i += 8) crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
        for (; i < data.Length; i++) crc = BitOperations.Crc32C(crc, data[i]);
        return ~crc;
    }
}

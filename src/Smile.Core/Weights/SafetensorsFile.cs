using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Smile.IO;
using TorchSharp;

namespace Smile.Weights;

/// <summary>
/// The safetensors format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}),
/// then the tensors' raw little-endian bytes, offsets relative to the start of that buffer.
/// </summary>
public static class SafetensorsFile
{
    private const string MetadataKey = "__metadata__";
    /// <summary>The Python library's limit; it also bounds the allocation an untrusted header length can cause.</summary>
    private const long MaxHeaderBytes = 100_000_000;
    private const int CopyBufferBytes = 1 << 20;

    private sealed record Entry(string Name, torch.ScalarType DType, long[] Shape, long Begin, long End);

    private sealed record Header(List<Entry> Entries, Dictionary<string, string> Metadata, long DataStart);

    public static Dictionary<string, torch.Tensor> Read(string path) => ReadWithMetadata(path).Tensors;

    /// <summary>Tensors (CPU, stored dtype, header order) and the header's string metadata.</summary>
    public static (Dictionary<string, torch.Tensor> Tensors, Dictionary<string, string> Metadata) ReadWithMetadata(string path) =>
        Guard(path, () =>
        {
            using var file = OpenRead(path);
            var header = ReadHeader(path, file);
            using var scope = torch.NewDisposeScope();
            var tensors = new Dictionary<string, torch.Tensor>();
            foreach (var entry in header.Entries)
            {
                var tensor = torch.empty(entry.Shape, entry.DType, device: torch.CPU);
                if (entry.End > entry.Begin)
                {
                    file.Position = header.DataStart + entry.Begin;
                    tensor.ReadBytesFromStream(file, CopyBufferBytes);
                }
                tensors[entry.Name] = tensor;
            }
            foreach (var tensor in tensors.Values) tensor.MoveToOuterDisposeScope();
            return (tensors, header.Metadata);
        });

    /// <summary>The "__metadata__" strings; reads the header only.</summary>
    public static Dictionary<string, string> ReadMetadata(string path) =>
        Guard(path, () =>
        {
            using var file = OpenRead(path);
            return ReadHeader(path, file).Metadata;
        });

    /// <summary>
    /// Writes atomically (<see cref="AtomicFile"/>): into a temporary file beside the target, flushed to disk, then moved
    /// over <paramref name="path"/>, so a crash leaves either the old file or the new one, never half of one.
    /// Tensors may live on any device and be non-contiguous. Keys are sorted by name, as the Python library
    /// sorts them, and the data is laid out in that order.
    /// </summary>
    public static void Write(string path, IReadOnlyDictionary<string, torch.Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var names = tensors.Keys.Order(StringComparer.Ordinal).ToList();
        foreach (var name in names)
        {
            if (name == MetadataKey) throw new WeightFileException(path, $"'{MetadataKey}' cannot be a tensor name");
            var dtype = tensors[name].dtype;
            if (!WeightDTypes.IsSupported(dtype))
                throw new WeightFileException(path, $"tensor '{name}' has dtype {dtype}, which is not supported (supported: {WeightDTypes.SupportedList})");
        }

        using var scope = torch.NewDisposeScope();
        var cpu = names.Select(n => tensors[n].detach().cpu().contiguous()).ToList();
        var header = BuildHeader(names, cpu, metadata);
        WriteAtomically(path, header, file =>
        {
            foreach (var tensor in cpu)
                if (tensor.NumberOfElements > 0) tensor.WriteBytesToStream(file, CopyBufferBytes);
        });
    }

    /// <summary>
    /// Sets the given "__metadata__" entries (adding or replacing them; the others stay) by rewriting the file
    /// atomically as <see cref="Write"/> does. The tensors' entries and data bytes are copied as they are, in
    /// their order and at their offsets, without being loaded as tensors.
    /// </summary>
    public static void UpdateMetadata(string path, IReadOnlyDictionary<string, string> changes)
    {
        if (changes.Count == 0) return;
        var old = Guard(path, () =>
        {
            using var file = OpenRead(path);
            return ReadHeader(path, file);
        });
        var metadata = new Dictionary<string, string>(old.Metadata);
        foreach (var (key, value) in changes) metadata[key] = value;
        var header = BuildHeader(old.Entries, metadata);
        WriteAtomically(path, header, file =>
        {
            // Closed again before the rename, which some platforms refuse over an open file.
            using var source = OpenRead(path);
            source.Position = old.DataStart;
            source.CopyTo(file, CopyBufferBytes);
        });
    }

    /// <summary>The 8-byte length, the header and then the data, through <see cref="AtomicFile"/> (flushed to
    /// disk before the rename).</summary>
    private static void WriteAtomically(string path, byte[] header, Action<FileStream> writeData)
    {
        try
        {
            AtomicFile.Write(path, file =>
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                file.Write(length);
                file.Write(header);
                writeData(file);
            }, flushToDisk: true, bufferSize: CopyBufferBytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WeightFileException(path, $"cannot write: {e.Message}", e);
        }
    }

    /// <summary>The JSON header of tensors laid out one after the other in the given order.</summary>
    private static byte[] BuildHeader(List<string> names, List<torch.Tensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var entries = new List<Entry>();
        long offset = 0;
        for (var i = 0; i < names.Count; i++)
        {
            var bytes = WeightDTypes.ByteCount(tensors[i].shape, tensors[i].dtype)!.Value;
            entries.Add(new Entry(names[i], tensors[i].dtype, tensors[i].shape, offset, offset + bytes));
            offset += bytes;
        }
        return BuildHeader(entries, metadata);
    }

    /// <summary>The JSON header, padded with spaces to a multiple of 8 bytes so the data is 8-byte aligned.</summary>
    private static byte[] BuildHeader(List<Entry> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) json.WriteString(key, value);
                json.WriteEndObject();
            }
            foreach (var entry in entries)
            {
                json.WriteStartObject(entry.Name);
                json.WriteString("dtype", WeightDTypes.SafetensorsCode(entry.DType));
                json.WriteStartArray("shape");
                foreach (var d in entry.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(entry.Begin);
                json.WriteNumberValue(entry.End);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        var padding = (int)((8 - buffer.Length % 8) % 8);
        for (var i = 0; i < padding; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    private static FileStream OpenRead(string path)
    {
        if (!File.Exists(path)) throw new WeightFileException(path, "file not found");
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, CopyBufferBytes);
    }

    /// <summary>Parses and validates the whole header (every size, offset and dtype) against the file's
    /// actual length, before any tensor is allocated.</summary>
    private static Header ReadHeader(string path, FileStream file)
    {
        WeightFileException Bad(string reason) => new(path, reason);

        var fileLength = file.Length;
        if (fileLength < 8) throw Bad($"too short for a safetensors file ({fileLength} bytes)");
        Span<byte> prefix = stackalloc byte[8];
        file.ReadExactly(prefix);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > (ulong)(fileLength - 8))
            throw Bad($"safetensors header length {headerLength} is larger than the file ({fileLength} bytes): truncated, or not a safetensors file");
        if (headerLength > MaxHeaderBytes) throw Bad($"safetensors header of {headerLength} bytes exceeds the {MaxHeaderBytes}-byte limit");
        var headerBytes = new byte[headerLength];
        file.ReadExactly(headerBytes);
        var dataStart = 8 + (long)headerLength;
        var dataLength = fileLength - dataStart;

        // JsonDocument only notices invalid UTF-8 when a string is read; checking first keeps that error clear.
        if (!System.Text.Unicode.Utf8.IsValid(headerBytes)) throw Bad("safetensors header is not valid UTF-8");
        JsonDocument document;
        try { document = JsonDocument.Parse(headerBytes); }
        catch (JsonException e) { throw Bad($"safetensors header is not valid JSON ({e.Message})"); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw Bad("safetensors header is not a JSON object");
            var entries = new List<Entry>();
            var metadata = new Dictionary<string, string>();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == MetadataKey)
                {
                    if (property.Value.ValueKind != JsonValueKind.Object) throw Bad($"'{MetadataKey}' is not a JSON object");
                    foreach (var item in property.Value.EnumerateObject())
                    {
                        if (item.Value.ValueKind != JsonValueKind.String) throw Bad($"metadata '{item.Name}' is not a string");
                        metadata[item.Name] = item.Value.GetString()!;
                    }
                    continue;
                }
                if (entries.Any(e => e.Name == property.Name)) throw Bad($"tensor '{property.Name}' appears twice in the header");
                entries.Add(ParseEntry(property, dataLength, Bad));
            }
            CheckLayout(entries, dataLength, Bad);
            return new Header(entries, metadata, dataStart);
        }
    }

    private static Entry ParseEntry(JsonProperty property, long dataLength, Func<string, WeightFileException> bad)
    {
        var name = property.Name;
        var value = property.Value;
        if (value.ValueKind != JsonValueKind.Object) throw bad($"tensor '{name}': header entry is not a JSON object");
        if (!value.TryGetProperty("dtype", out var dtypeJson) || dtypeJson.ValueKind != JsonValueKind.String)
            throw bad($"tensor '{name}': missing dtype");
        var code = dtypeJson.GetString()!;
        if (!WeightDTypes.TryFromSafetensors(code, out var dtype))
            throw bad($"tensor '{name}': dtype '{code}' is not supported (supported: F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
        var shape = ReadLongs(value, "shape", name, bad);
        var offsets = ReadLongs(value, "data_offsets", name, bad);
        if (offsets.Length != 2) throw bad($"tensor '{name}': data_offsets must be [begin, end]");
        var (begin, end) = (offsets[0], offsets[1]);
        if (begin < 0 || end < begin || end > dataLength)
            throw bad($"tensor '{name}': data_offsets [{begin}, {end}] lie outside the {dataLength} data bytes (truncated file?)");
        var bytes = WeightDTypes.ByteCount(shape, dtype)
            ?? throw bad($"tensor '{name}': invalid shape [{string.Join(", ", shape)}]");
        if (bytes != end - begin)
            throw bad($"tensor '{name}': shape [{string.Join(", ", shape)}] of {code} needs {bytes} bytes but data_offsets span {end - begin}");
        return new Entry(name, dtype, shape, begin, end);
    }

    /// <summary>
    /// The tensors' byte ranges must tile the data section: no overlap (two tensors sharing bytes would load one
    /// with the other's values), no gap, nothing after the last. The format's reference implementation (the
    /// Python library's Rust core) refuses such files the same way.
    /// </summary>
    private static void CheckLayout(List<Entry> entries, long dataLength, Func<string, WeightFileException> bad)
    {
        long cursor = 0;
        Entry? previous = null;
        foreach (var entry in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (entry.Begin < cursor)
                throw bad($"tensors '{previous!.Name}' [{previous.Begin}, {previous.End}] and '{entry.Name}' [{entry.Begin}, {entry.End}] overlap in the data section");
            if (entry.Begin > cursor)
                throw bad(previous is null
                    ? $"tensor '{entry.Name}' starts at data byte {entry.Begin}: the {entry.Begin} bytes before it belong to no tensor"
                    : $"{entry.Begin - cursor} data bytes between tensors '{previous.Name}' (ends at {previous.End}) and '{entry.Name}' (starts at {entry.Begin}) belong to no tensor");
            cursor = entry.End;
            previous = entry;
        }
        if (cursor != dataLength)
            throw bad(previous is null
                ? $"{dataLength} data bytes but no tensor"
                : $"the {dataLength - cursor} data bytes after tensor '{previous.Name}' (ends at {cursor} of {dataLength}) belong to no tensor");
    }

    private static long[] ReadLongs(JsonElement entry, string field, string name, Func<string, WeightFileException> bad)
    {
        if (!entry.TryGetProperty(field, out var array) || array.ValueKind != JsonValueKind.Array)
            throw bad($"tensor '{name}': missing {field}");
        return array.EnumerateArray()
            .Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out var v) && v >= 0 ? v : throw bad($"tensor '{name}': {field} must hold non-negative integers"))
            .ToArray();
    }

    /// <summary>Turns every failure of reading into a one-line <see cref="WeightFileException"/> naming the file.</summary>
    private static T Guard<T>(string path, Func<T> read)
    {
        try { return read(); }
        catch (WeightFileException) { throw; }
        catch (EndOfStreamException e) { throw new WeightFileException(path, "unexpected end of file (truncated?)", e); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new WeightFileException(path, $"cannot read: {e.Message}", e); }
        catch (Exception e) when (e is not OutOfMemoryException) { throw new WeightFileException(path, $"cannot read the safetensors file: {e.GetType().Name}: {e.Message}", e); }
    }
}

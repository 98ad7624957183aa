using System.IO.Compression;
using System.Text;
using Smile.Weights.Pickle;
using TorchSharp;

namespace Smile.Weights;

/// <summary>
/// Reads PyTorch state dicts as torch.save (PyTorch 1.6 and later) writes them: a zip archive with one
/// top-level folder holding `data.pkl` (the pickled dict), `data/&lt;key&gt;` (raw little-endian storages),
/// and optionally `byteorder`. The pickle is parsed by a restricted unpickler that executes nothing.
/// </summary>
public static class PthReader
{
    /// <summary>data.pkl only describes tensors; one this large is not a state dict (and would be an
    /// allocation driven by an untrusted length).</summary>
    private const long MaxPickleBytes = 1L << 30;
    private const int CopyBufferBytes = 1 << 20;

    /// <summary>
    /// Returns CPU tensors in their stored dtype, keyed by state-dict name, in file order. A checkpoint
    /// dict holding the state dict under "state_dict" or "model" is accepted too.
    /// </summary>
    public static Dictionary<string, torch.Tensor> Read(string path)
    {
        if (!File.Exists(path)) throw new WeightFileException(path, "file not found");
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            using var zip = new ZipArchive(file, ZipArchiveMode.Read);
            var prefix = FindPrefix(zip);
            CheckByteOrder(zip, prefix);
            var pickle = ReadPickle(zip.GetEntry($"{prefix}/data.pkl")!);
            var root = Unpickler.Load(pickle, new TorchPickleHost());
            var entries = SelectStateDict(root);
            return Materialize(zip, prefix, entries);
        }
        catch (WeightFileException) { throw; }
        catch (PickleException e) { throw new WeightFileException(path, e.Message, e); }
        catch (InvalidDataException e) { throw new WeightFileException(path, $"not a readable zip archive, so not a PyTorch file or a damaged one ({e.Message})", e); }
        catch (EndOfStreamException e) { throw new WeightFileException(path, "unexpected end of file (truncated?)", e); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WeightFileException(path, $"cannot read: {e.Message}", e);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new WeightFileException(path, $"cannot read the PyTorch file: {e.GetType().Name}: {e.Message}", e);
        }
    }

    /// <summary>The single top-level folder holding data.pkl; its name depends on the PyTorch version and the
    /// file name it was first saved as ("archive", "model", ...), so it is found, not assumed.</summary>
    private static string FindPrefix(ZipArchive zip)
    {
        var prefixes = zip.Entries
            .Select(e => e.FullName.Split('/'))
            .Where(parts => parts.Length == 2 && parts[1] == "data.pkl")
            .Select(parts => parts[0])
            .Distinct()
            .ToList();
        return prefixes.Count switch
        {
            1 => prefixes[0],
            0 => throw new PickleException("the zip archive has no '<folder>/data.pkl', so it is not a PyTorch file written by torch.save"),
            _ => throw new PickleException($"the zip archive has several data.pkl files ({string.Join(", ", prefixes)}), not one state dict"),
        };
    }

    private static void CheckByteOrder(ZipArchive zip, string prefix)
    {
        var entry = zip.GetEntry($"{prefix}/byteorder");
        if (entry is null) return; // written since PyTorch 1.12; older files are little-endian
        if (entry.Length > 16) throw new PickleException("invalid byteorder entry");
        var order = Encoding.ASCII.GetString(ReadAll(entry)).Trim();
        if (order == "little") return;
        throw new PickleException(order == "big"
            ? "tensors are stored big-endian (saved on a big-endian machine); only little-endian files are read"
            : $"unknown byteorder '{order}'");
    }

    private static byte[] ReadPickle(ZipArchiveEntry entry)
    {
        if (entry.Length > MaxPickleBytes)
            throw new PickleException($"data.pkl is {entry.Length} bytes, too large for a state dict");
        return ReadAll(entry);
    }

    private static byte[] ReadAll(ZipArchiveEntry entry)
    {
        var bytes = new byte[entry.Length];
        using var stream = entry.Open();
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>The result of torch.load must be a dict of name to tensor; checkpoints commonly wrap it.</summary>
    private static List<(string Name, TensorRef Tensor)> SelectStateDict(object? root)
    {
        if (AsStateDict(root, out var entries, out var problem)) return entries;
        if (root is PickleDict dict)
        {
            foreach (var key in new[] { "state_dict", "model" })
                if (dict.TryGet(key, out var inner) && AsStateDict(inner, out entries, out _)) return entries;
        }
        throw new PickleException($"holds no state dict: expected a dict of name -> tensor (or a checkpoint with one under 'state_dict' or 'model'), found {problem}");
    }

    private static bool AsStateDict(object? value, out List<(string, TensorRef)> entries, out string problem)
    {
        entries = [];
        if (value is not PickleDict dict)
        {
            problem = $"a {Unpickler.Describe(value)}";
            return false;
        }
        foreach (var (key, item) in dict.Entries)
        {
            if (key is not string name)
            {
                problem = $"a dict with a {Unpickler.Describe(key)} key";
                return false;
            }
            if (item is not TensorRef tensor)
            {
                problem = $"a dict whose entry '{name}' is a {Unpickler.Describe(item)}";
                return false;
            }
            entries.Add((name, tensor));
        }
        problem = "";
        return true;
    }

    /// <summary>
    /// Creates the tensors. All storage entries are checked against their declared sizes before the first
    /// native tensor exists. A tensor that is the whole of a storage nobody else uses is read straight into
    /// its own memory; any other view (a slice, a transpose, storage shared between entries) is copied out of
    /// the storage into a fresh contiguous tensor, so no result keeps a larger storage alive.
    /// </summary>
    private static Dictionary<string, torch.Tensor> Materialize(ZipArchive zip, string prefix, List<(string Name, TensorRef Tensor)> entries)
    {
        var uses = entries.GroupBy(e => e.Tensor.Storage.Key).ToDictionary(g => g.Key, g => g.Count());
        var zipEntries = new Dictionary<string, ZipArchiveEntry>();
        foreach (var storage in entries.Select(e => e.Tensor.Storage).DistinctBy(s => s.Key))
        {
            var entry = zip.GetEntry($"{prefix}/data/{storage.Key}")
                ?? throw new PickleException($"storage '{storage.Key}' is missing from the archive ({prefix}/data/{storage.Key})");
            var needed = storage.Numel * WeightDTypes.ElementSize(storage.DType);
            if (entry.Length < needed)
                throw new PickleException($"storage '{storage.Key}' has {entry.Length} bytes, fewer than its {storage.Numel} elements need ({needed}); the file is damaged");
            zipEntries[storage.Key] = entry;
        }

        using var scope = torch.NewDisposeScope();
        var loaded = new Dictionary<string, torch.Tensor>();
        var result = new Dictionary<string, torch.Tensor>();
        foreach (var (name, view) in entries)
        {
            var key = view.Storage.Key;
            if (uses[key] == 1 && view.CoversWholeStorageContiguously)
            {
                result[name] = ReadInto(torch.empty(view.Size, view.Storage.DType, device: torch.CPU), zipEntries[key]);
            }
            else
            {
                if (!loaded.TryGetValue(key, out var storage))
                    loaded[key] = storage = ReadInto(torch.empty([view.Storage.Numel], view.Storage.DType, device: torch.CPU), zipEntries[key]);
                var owned = torch.empty(view.Size, view.Storage.DType, device: torch.CPU);
                using (var strided = storage.as_strided(view.Size, view.Stride, view.Offset)) owned.copy_(strided);
                result[name] = owned;
                if (--uses[key] == 0) { storage.Dispose(); loaded.Remove(key); }
            }
        }
        foreach (var tensor in result.Values) tensor.MoveToOuterDisposeScope();
        return result;
    }

    private static torch.Tensor ReadInto(torch.Tensor tensor, ZipArchiveEntry entry)
    {
        if (tensor.NumberOfElements == 0) return tensor;
        using var stream = entry.Open();
        tensor.ReadBytesFromStream(stream, CopyBufferBytes);
        return tensor;
    }
}

using TorchSharp;

namespace Smile.Weights;

/// <summary>Reads a weight file of either supported format, recognised by its content, not its extension
/// (downloaded checkpoints are often named .bin or .pt whatever they hold).</summary>
public static class WeightFile
{
    public static Dictionary<string, torch.Tensor> Read(string path)
    {
        if (!File.Exists(path)) throw new WeightFileException(path, "file not found");
        Span<byte> magic = stackalloc byte[4];
        int read;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            read = file.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WeightFileException(path, $"cannot read: {e.Message}", e);
        }
        if (read == 4 && magic.SequenceEqual("PK\x03\x04"u8)) return PthReader.Read(path);
        // torch.save before PyTorch 1.6 (or with _use_new_zipfile_serialization=False) wrote a bare pickle
        // stream that starts with PROTO and its magic number as a 10-byte LONG1; naming the format helps more
        // than a safetensors parse error would. (All four bytes are checked: a safetensors header length can
        // start with 0x80 0x05 too, but not continue with 0x8a 0x0a within the 100 MB header limit.)
        if (read == 4 && magic[0] == 0x80 && magic[1] is >= 2 and <= 5 && magic[2] == 0x8a && magic[3] == 0x0a)
            throw new WeightFileException(path, "legacy (non-zip) torch.save format is not supported; re-save it with torch.save in PyTorch 1.6 or later");
        return SafetensorsFile.Read(path);
    }
}

using System.Text.Json;

namespace Smile.Weights;

/// <summary>The "normalization" entry of a Smile file's metadata (classifier and SimNet checkpoints alike):
/// JSON <c>{"mean": [...], "std": [...]}</c>, what the file's transform normalised the images with.</summary>
internal static class NormalizationMetadata
{
    public const string Key = "normalization";

    public static string Write(float[] mean, float[] std) => JsonSerializer.Serialize(new { mean, std });

    /// <exception cref="KeyNotFoundException">The entry or one of its fields is missing.</exception>
    /// <exception cref="JsonException">The entry is not JSON.</exception>
    public static (float[] Mean, float[] Std) Read(IReadOnlyDictionary<string, string> metadata)
    {
        var norm = JsonDocument.Parse(metadata[Key]).RootElement;
        return (norm.GetProperty("mean").EnumerateArray().Select(e => e.GetSingle()).ToArray(),
                norm.GetProperty("std").EnumerateArray().Select(e => e.GetSingle()).ToArray());
    }
}

using System.Text.Json;

namespace Smile.Weights;

/// <summary>The "normalization" entry of a Smile file's metadata (classifier and SimNet checkpoints alike):
/// JSON <c>{"mean": [...], "std": [...]}</c>, what the file's transform normalised the images with.</summary>
internal static class NormalizationMetadata
{
    public const string Key = "normalization";

    public static string Write(float[] mean, float[] std) => JsonSerializer.Serialize(new { mean, std });

    /// <summary>Three finite means and three positive finite standard deviations (R, G, B): what
    /// <see cref="Smile.Data.Normalization"/> accepts, checked here so that damaged metadata is a file error.</summary>
    /// <exception cref="KeyNotFoundException">The entry or one of its fields is missing.</exception>
    /// <exception cref="JsonException">The entry is not JSON.</exception>
    /// <exception cref="FormatException">The values are not three usable means and standard deviations.</exception>
    public static (float[] Mean, float[] Std) Read(IReadOnlyDictionary<string, string> metadata)
    {
        var norm = JsonDocument.Parse(metadata[Key]).RootElement;
        var mean = Numbers(norm.GetProperty("mean"), "mean");
        var std = Numbers(norm.GetProperty("std"), "std");
        if (mean.Length != 3 || std.Length != 3)
            throw new FormatException($"normalization has {mean.Length} means and {std.Length} standard deviations, not 3 of each (R, G, B)");
        for (int c = 0; c < 3; c++)
        {
            if (!float.IsFinite(mean[c])) throw new FormatException($"normalization mean[{c}] is {mean[c]}, not a finite number");
            if (!(std[c] > 0) || !float.IsFinite(std[c])) throw new FormatException($"normalization std[{c}] is {std[c]}, not a positive finite number");
        }
        return (mean, std);
    }

    private static float[] Numbers(JsonElement array, string field)
    {
        if (array.ValueKind != JsonValueKind.Array) throw new FormatException($"normalization {field} is not a list of numbers");
        return array.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number
            ? e.GetSingle()
            : throw new FormatException($"normalization {field} holds {e.GetRawText()}, not a number")).ToArray();
    }
}

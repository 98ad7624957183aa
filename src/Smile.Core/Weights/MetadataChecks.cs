using Smile.Data;

namespace Smile.Weights;

/// <summary>Checks of the metadata values that size or label a model (classifier and SimNet checkpoints alike):
/// a damaged value is a <see cref="FormatException"/>, which the readers turn into a file error naming the file,
/// instead of an argument error deep inside the model or the transform.</summary>
internal static class MetadataChecks
{
    /// <summary>The entry <paramref name="key"/> as an int; the error names the entry.</summary>
    public static int Integer(IReadOnlyDictionary<string, string> metadata, string key) =>
        int.TryParse(metadata[key], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new FormatException($"{key} '{metadata[key]}' is not a whole number of int range");

    public static int ImageSize(IReadOnlyDictionary<string, string> metadata) => Integer(metadata, "image_size") is var size and >= 1 and <= TransformSpec.MaxImageSize
        ? size
        : throw new FormatException($"image_size {metadata["image_size"]} is not between 1 and {TransformSpec.MaxImageSize}");

    /// <summary>At least one class, every name non-empty and different from the others (a name given twice
    /// would map two outputs to one folder).</summary>
    public static string[] ClassNames(string[]? names, string field)
    {
        if (names is null || names.Length == 0) throw new FormatException($"{field} is empty");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (string.IsNullOrWhiteSpace(name)) throw new FormatException($"{field} holds an empty name");
            if (!seen.Add(name)) throw new FormatException($"{field} names '{name}' twice");
        }
        return names;
    }

    public static int Positive(IReadOnlyDictionary<string, string> metadata, string key) => Integer(metadata, key) is var value and >= 1
        ? value
        : throw new FormatException($"{key} is {metadata[key]}, not a positive number");
}

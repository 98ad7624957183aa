using TorchSharp;

namespace Smile.Weights;

/// <summary>
/// The element types the weight files may hold, with their names in the two formats. Element sizes are
/// kept here (not asked from LibTorch) so that every size is validated before a native tensor exists.
/// </summary>
internal static class WeightDTypes
{
    private sealed record Info(torch.ScalarType Type, int Size, string Safetensors, string PyTorchStorage, string Display);

    private static readonly Info[] All =
    [
        new(torch.ScalarType.Float32, 4, "F32", "FloatStorage", "float32"),
        new(torch.ScalarType.Float64, 8, "F64", "DoubleStorage", "float64"),
        new(torch.ScalarType.Float16, 2, "F16", "HalfStorage", "float16"),
        new(torch.ScalarType.BFloat16, 2, "BF16", "BFloat16Storage", "bfloat16"),
        new(torch.ScalarType.Int64, 8, "I64", "LongStorage", "int64"),
        new(torch.ScalarType.Int32, 4, "I32", "IntStorage", "int32"),
        new(torch.ScalarType.Int16, 2, "I16", "ShortStorage", "int16"),
        new(torch.ScalarType.Int8, 1, "I8", "CharStorage", "int8"),
        new(torch.ScalarType.Byte, 1, "U8", "ByteStorage", "uint8"),
        new(torch.ScalarType.Bool, 1, "BOOL", "BoolStorage", "bool"),
    ];

    public static string SupportedList => string.Join(", ", All.Select(i => i.Display));

    public static bool TryFromSafetensors(string code, out torch.ScalarType type) => TryFind(i => i.Safetensors == code, out type);

    public static bool TryFromStorageName(string storageName, out torch.ScalarType type) => TryFind(i => i.PyTorchStorage == storageName, out type);

    public static bool IsSupported(torch.ScalarType type) => All.Any(i => i.Type == type);

    public static int ElementSize(torch.ScalarType type) => Get(type).Size;

    public static string SafetensorsCode(torch.ScalarType type) => Get(type).Safetensors;

    /// <summary>numel * element size, or null when a dimension is negative or the product overflows.</summary>
    public static long? ByteCount(IReadOnlyList<long> shape, torch.ScalarType type)
    {
        long count = ElementSize(type);
        foreach (var d in shape)
        {
            if (d < 0) return null;
            try { count = checked(count * d); }
            catch (OverflowException) { return null; }
        }
        return count;
    }

    private static Info Get(torch.ScalarType type) =>
        All.FirstOrDefault(i => i.Type == type) ?? throw new ArgumentException($"dtype {type} is not supported (supported: {SupportedList})");

    private static bool TryFind(Func<Info, bool> match, out torch.ScalarType type)
    {
        var info = All.FirstOrDefault(match);
        type = info?.Type ?? default;
        return info is not null;
    }
}

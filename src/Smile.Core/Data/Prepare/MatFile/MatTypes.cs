namespace Smile.Data.Prepare.MatFile;

/// <summary>The data types of data elements (mi*) in a MAT-file level 5 (MathWorks, "MAT-File Format", table 1-1).</summary>
internal static class MiType
{
    public const int Int8 = 1, UInt8 = 2, Int16 = 3, UInt16 = 4, Int32 = 5, UInt32 = 6, Single = 7, Double = 9,
        Int64 = 12, UInt64 = 13, Matrix = 14, Compressed = 15, Utf8 = 16, Utf16 = 17, Utf32 = 18;

    /// <summary>Bytes per value of a numeric data type, or 0 for a type that holds no plain numbers.</summary>
    public static int Size(int type) => type switch
    {
        Int8 or UInt8 => 1,
        Int16 or UInt16 => 2,
        Int32 or UInt32 or Single => 4,
        Double or Int64 or UInt64 => 8,
        _ => 0,
    };

    public static string Name(int type) => type switch
    {
        Int8 => "miINT8", UInt8 => "miUINT8", Int16 => "miINT16", UInt16 => "miUINT16", Int32 => "miINT32",
        UInt32 => "miUINT32", Single => "miSINGLE", Double => "miDOUBLE", Int64 => "miINT64", UInt64 => "miUINT64",
        Matrix => "miMATRIX", Compressed => "miCOMPRESSED", Utf8 => "miUTF8", Utf16 => "miUTF16", Utf32 => "miUTF32",
        _ => $"unknown data type {type}",
    };
}

/// <summary>The array classes (mx*) of a miMATRIX's array flags (table 1-3).</summary>
internal static class MxClass
{
    public const int Cell = 1, Struct = 2, Object = 3, Char = 4, Sparse = 5, Double = 6, Single = 7,
        Int8 = 8, UInt8 = 9, Int16 = 10, UInt16 = 11, Int32 = 12, UInt32 = 13, Int64 = 14, UInt64 = 15,
        Function = 16, Opaque = 17;

    /// <summary>MATLAB's name of a numeric class ("double", "uint8" ...), or null for a class that is not numeric.</summary>
    public static string? NumericName(int mxClass) => mxClass switch
    {
        Double => "double", Single => "single", Int8 => "int8", UInt8 => "uint8", Int16 => "int16", UInt16 => "uint16",
        Int32 => "int32", UInt32 => "uint32", Int64 => "int64", UInt64 => "uint64",
        _ => null,
    };

    public static string Name(int mxClass) => NumericName(mxClass) ?? mxClass switch
    {
        Cell => "cell", Struct => "struct", Object => "object", Char => "char", Sparse => "sparse",
        Function => "function handle", Opaque => "opaque object",
        _ => $"unknown class {mxClass}",
    };
}

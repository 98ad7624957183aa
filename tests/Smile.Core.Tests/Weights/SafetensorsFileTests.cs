using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Weights;

public sealed class SafetensorsFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smile-st-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    /// <summary>Every supported dtype, odd shapes (0-dim, empty, 3-d), non-trivial values.</summary>
    private static Dictionary<string, Tensor> Sample()
    {
        manual_seed(5);
        using Scalar six = 6;
        return new()
        {
            ["f32"] = randn([2, 3, 4]),
            ["f64"] = randn([5], dtype: ScalarType.Float64),
            ["f16"] = randn([3, 2]).to_type(ScalarType.Float16),
            ["bf16"] = randn([7]).to_type(ScalarType.BFloat16),
            ["i64"] = tensor(new long[] { long.MinValue, -1, 0, long.MaxValue }),
            ["i32"] = tensor(new[] { int.MinValue, 7, int.MaxValue }),
            ["i16"] = tensor(new short[] { -300, 300 }),
            ["i8"] = tensor(new sbyte[] { -128, 0, 127 }),
            ["u8"] = tensor(new byte[] { 0, 1, 255 }),
            ["bool"] = tensor(new[] { true, false, true, true }),
            ["scalar"] = tensor(2.5f),
            ["empty"] = zeros(0, 4),
            ["a.nested.name"] = arange(TensorArithmetic.Zero, six, TensorArithmetic.One, dtype: ScalarType.Float32).reshape(2, 3),
        };
    }

    [Fact]
    public void RoundTripsEveryDTypeAndShapeWithMetadata()
    {
        using var scope = NewDisposeScope();
        var path = PathOf("w.safetensors");
        var tensors = Sample();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["smile.arch"] = "resnet18", ["ünï"] = "välue \"quoted\"" };
        SafetensorsFile.Write(path, tensors, metadata);

        var (read, readMetadata) = SafetensorsFile.ReadWithMetadata(path);
        Assert.Equal(tensors.Keys.Order(StringComparer.Ordinal), read.Keys);
        foreach (var (name, expected) in tensors)
        {
            var actual = read[name];
            Assert.True(expected.dtype == actual.dtype, $"{name}: dtype {actual.dtype}");
            Assert.True(expected.shape.SequenceEqual(actual.shape), $"{name}: shape [{string.Join(", ", actual.shape)}]");
            Assert.True(Bytes(expected).SequenceEqual(Bytes(actual)), $"{name}: different bytes");
        }
        Assert.Equal(metadata, readMetadata);
        Assert.Equal(metadata, SafetensorsFile.ReadMetadata(path));
    }

    [Fact]
    public void WritesNonContiguousTensorsAsTheirValues()
    {
        using var scope = NewDisposeScope();
        var path = PathOf("t.safetensors");
        using Scalar twelve = 12;
        var source = arange(TensorArithmetic.Zero, twelve, TensorArithmetic.One, dtype: ScalarType.Float32).reshape(3, 4);
        SafetensorsFile.Write(path, new Dictionary<string, Tensor> { ["t"] = source.t(), ["slice"] = source[.., 1..3] });
        var read = SafetensorsFile.Read(path);
        Assert.Equal(new float[] { 0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11 }, read["t"].data<float>().ToArray());
        Assert.Equal(new float[] { 1, 2, 5, 6, 9, 10 }, read["slice"].data<float>().ToArray());
    }

    [Fact]
    public void HeaderIsSortedPaddedAndLaidOutInOrder()
    {
        using var scope = NewDisposeScope();
        var path = PathOf("h.safetensors");
        SafetensorsFile.Write(path, new Dictionary<string, Tensor> { ["b"] = ones(3), ["a"] = ones(2, dtype: ScalarType.Float64) },
            new Dictionary<string, string> { ["k"] = "v" });
        var bytes = File.ReadAllBytes(path);
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, n % 8);
        Assert.Equal(8 + n + 16 + 12, bytes.Length);
        var header = Encoding.UTF8.GetString(bytes, 8, n);
        Assert.Matches("^\\{.*\\} *$", header); // padded with spaces only
        using var json = JsonDocument.Parse(header);
        Assert.Equal(new[] { "__metadata__", "a", "b" }, json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal("[0,16]", json.RootElement.GetProperty("a").GetProperty("data_offsets").GetRawText());
        Assert.Equal("[16,28]", json.RootElement.GetProperty("b").GetProperty("data_offsets").GetRawText());
        Assert.Equal("F64", json.RootElement.GetProperty("a").GetProperty("dtype").GetString());
    }

    [Fact]
    public void WriteIsAtomicLeavesNoTempFileAndOverwrites()
    {
        using var scope = NewDisposeScope();
        var path = PathOf("o.safetensors");
        SafetensorsFile.Write(path, new Dictionary<string, Tensor> { ["x"] = ones(1000) });
        using Scalar three = 3f;
        SafetensorsFile.Write(path, new Dictionary<string, Tensor> { ["y"] = full(2, three) });
        Assert.Equal([path], Directory.GetFiles(_dir));
        var read = SafetensorsFile.Read(path);
        Assert.Equal(["y"], read.Keys);
        Assert.Equal(new float[] { 3, 3 }, read["y"].data<float>().ToArray());
    }

    [Fact]
    public void AFailedWriteDeletesItsTempFileAndKeepsTheTarget()
    {
        using var scope = NewDisposeScope();
        var target = PathOf("taken");
        Directory.CreateDirectory(target); // the final move onto a folder fails after the temp file is written
        var error = Assert.Throws<WeightFileException>(() => SafetensorsFile.Write(target, new Dictionary<string, Tensor> { ["x"] = ones(4) }));
        Assert.StartsWith($"{target}: cannot write", error.Message);
        Assert.Empty(Directory.GetFiles(_dir));
        Assert.True(Directory.Exists(target));
    }

    [Fact]
    public void RefusesToWriteAnUnsupportedDType()
    {
        using var scope = NewDisposeScope();
        var path = PathOf("c.safetensors");
        var error = Assert.Throws<WeightFileException>(() =>
            SafetensorsFile.Write(path, new Dictionary<string, Tensor> { ["z"] = zeros(2, dtype: ScalarType.ComplexFloat32) }));
        Assert.Contains("'z'", error.Message);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void ATruncatedFileIsAWeightFileError()
    {
        using var scope = NewDisposeScope();
        var path = PathOf("cut.safetensors");
        SafetensorsFile.Write(path, Sample());
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 10)]);
        var error = Assert.Throws<WeightFileException>(() => SafetensorsFile.Read(path));
        Assert.StartsWith($"{path}: tensor '", error.Message);
        Assert.Contains("outside the", error.Message);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 3)]); // cut inside the header
        Assert.StartsWith($"{path}: safetensors header length", Assert.Throws<WeightFileException>(() => WeightFile.Read(path)).Message);
        File.WriteAllBytes(path, bytes[..5]);
        Assert.StartsWith($"{path}: too short", Assert.Throws<WeightFileException>(() => SafetensorsFile.ReadMetadata(path)).Message);
    }

    [Fact]
    public void AHeaderLengthBeyondTheFileIsAWeightFileError()
    {
        var path = PathOf("long.safetensors");
        var bytes = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1000);
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<WeightFileException>(() => SafetensorsFile.Read(path));
        Assert.Equal($"{path}: safetensors header length 1000 is larger than the file (64 bytes): truncated, or not a safetensors file", error.Message);
    }

    [Theory]
    [InlineData("{\"x\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]", "not valid JSON")]
    [InlineData("[1, 2]", "not a JSON object")]
    [InlineData("{\"x\": {\"dtype\": \"F8_E4M3\", \"shape\": [2], \"data_offsets\": [0, 2]}}", "dtype 'F8_E4M3' is not supported")]
    [InlineData("{\"x\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", "needs 12 bytes but data_offsets span 8")]
    [InlineData("{\"x\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", "lie outside the 8 data bytes")]
    [InlineData("{\"x\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", "non-negative integers")]
    [InlineData("{\"x\": {\"dtype\": \"F32\", \"shape\": [4611686018427387904, 4], \"data_offsets\": [0, 8]}}", "invalid shape")]
    [InlineData("{\"x\": {\"dtype\": \"F32\", \"shape\": [2]}}", "missing data_offsets")]
    [InlineData("{\"__metadata__\": {\"n\": 3}}", "metadata 'n' is not a string")]
    public void ABadHeaderIsAWeightFileError(string header, string reason)
    {
        var path = PathOf("bad.safetensors");
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + 8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<WeightFileException>(() => SafetensorsFile.Read(path));
        Assert.StartsWith($"{path}: ", error.Message);
        Assert.Contains(reason, error.Message);
    }

    /// <summary>Byte ranges that do not tile the data section exactly: the safetensors reference implementation
    /// refuses each of these, and so does Smile (a partial overlap used to load one tensor with another's bytes).</summary>
    [Theory]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12,
        "tensors 'a' [0, 8] and 'b' [4, 12] overlap in the data section")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"b\": {\"dtype\": \"I32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8,
        "tensors 'a' [0, 8] and 'b' [0, 8] overlap in the data section")]
    [InlineData("{\"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}, \"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", 16,
        "tensors 'a' [0, 16] and 'b' [4, 8] overlap in the data section")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 12]}}", 12,
        "4 data bytes between tensors 'a' (ends at 4) and 'b' (starts at 8) belong to no tensor")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8,
        "tensor 'a' starts at data byte 4: the 4 bytes before it belong to no tensor")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 12,
        "the 8 data bytes after tensor 'a' (ends at 4 of 12) belong to no tensor")]
    public void TensorsThatOverlapOrLeaveBytesUnusedAreAWeightFileErrorNamingThem(string header, int dataBytes, string reason)
    {
        var path = PathOf("layout.safetensors");
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        foreach (var read in new Action[] { () => SafetensorsFile.Read(path), () => SafetensorsFile.ReadMetadata(path) })
            Assert.Equal($"{path}: {reason}", Assert.Throws<WeightFileException>(read).Message);
    }

    [Fact]
    public void EmptyTensorsMayShareAnOffsetWithTheirNeighbours()
    {
        using var scope = NewDisposeScope();
        var path = PathOf("empty-ranges.safetensors");
        var json = Encoding.UTF8.GetBytes("{\"e\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [0, 0]}, " +
            "\"x\": {\"dtype\": \"I32\", \"shape\": [1], \"data_offsets\": [0, 4]}, \"z\": {\"dtype\": \"I8\", \"shape\": [0, 3], \"data_offsets\": [4, 4]}}");
        var bytes = new byte[8 + json.Length + 4];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8 + json.Length), 77);
        File.WriteAllBytes(path, bytes);
        var read = SafetensorsFile.Read(path);
        Assert.Equal(77, read["x"].item<int>());
        Assert.Equal(0, read["e"].numel());
        Assert.Equal(new long[] { 0, 3 }, read["z"].shape);
    }

    [Fact]
    public void AcceptsAHeaderPaddedWithSpacesAndAnEmptyFile()
    {
        using var scope = NewDisposeScope();
        var path = PathOf("p.safetensors");
        var json = Encoding.UTF8.GetBytes("{\"x\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]}}       ");
        var bytes = new byte[8 + json.Length + 4];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8 + json.Length), -42);
        File.WriteAllBytes(path, bytes);
        Assert.Equal(-42, SafetensorsFile.Read(path)["x"].item<int>());

        SafetensorsFile.Write(path, new Dictionary<string, Tensor>());
        Assert.Empty(SafetensorsFile.Read(path));
        Assert.Empty(SafetensorsFile.ReadMetadata(path));
    }

    [Fact]
    public void AMissingFileIsNamed()
    {
        var path = PathOf("none.safetensors");
        Assert.Equal($"{path}: file not found", Assert.Throws<WeightFileException>(() => SafetensorsFile.Read(path)).Message);
    }

    private static byte[] Bytes(Tensor t) => t.numel() == 0 ? [] : t.contiguous().bytes.ToArray();
}

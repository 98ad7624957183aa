using Smile.Models;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Weights;

/// <summary>Reads .pth files written by real PyTorch (make_pth_fixture.py) and compares every value exactly.</summary>
public sealed class PthReaderTests(PthFixture fixture) : IClassFixture<PthFixture>
{
    private static readonly Dictionary<string, ScalarType> DTypes = new()
    {
        ["float32"] = ScalarType.Float32, ["float64"] = ScalarType.Float64, ["float16"] = ScalarType.Float16,
        ["bfloat16"] = ScalarType.BFloat16, ["int64"] = ScalarType.Int64, ["bool"] = ScalarType.Bool,
    };

    [Fact]
    public void ReadsEveryTensorOfATorchSaveStateDictExactly()
    {
        using var scope = NewDisposeScope();
        AssertMatchesExpected(PthReader.Read(fixture.PathOf("state_dict.pth")));
    }

    [Fact]
    public void ReadsPickleProtocol5()
    {
        using var scope = NewDisposeScope();
        AssertMatchesExpected(PthReader.Read(fixture.PathOf("protocol5.pth")));
    }

    [Fact]
    public void ReadsTheStateDictOfACheckpointWrapper()
    {
        using var scope = NewDisposeScope();
        AssertMatchesExpected(WeightFile.Read(fixture.PathOf("checkpoint.pth")));
    }

    [Fact]
    public void TensorsSharingAStorageComeBackIndependentAndContiguous()
    {
        using var scope = NewDisposeScope();
        var tensors = PthReader.Read(fixture.PathOf("state_dict.pth"));
        Assert.All(tensors, kv => Assert.True(kv.Value.is_contiguous(), $"{kv.Key} is not contiguous"));
        var slice = ToDoubles(tensors["shared.slice"]);
        using Scalar hundred = 100;
        tensors["shared.base"].fill_(hundred);
        Assert.Equal(slice, ToDoubles(tensors["shared.slice"]));
        Assert.Equal(0, tensors["shared.slice"].storage_offset());
    }

    [Fact]
    public void NumBatchesTrackedIsAZeroDimInt64()
    {
        using var scope = NewDisposeScope();
        var tracked = PthReader.Read(fixture.PathOf("state_dict.pth"))["bn.num_batches_tracked"];
        Assert.Empty(tracked.shape);
        Assert.Equal(ScalarType.Int64, tracked.dtype);
        Assert.Equal(2L, tracked.item<long>());
    }

    [Fact]
    public void LoadsIntoTheSameTorchSharpModel()
    {
        using var scope = NewDisposeScope();
        var file = PthReader.Read(fixture.PathOf("state_dict.pth"));
        using var model = nn.Sequential(("conv", nn.Conv2d(3, 4, 3)), ("bn", HeldBatchNorm.For2d(4)), ("fc", nn.Linear(36, 5)));
        var report = StateDictLoader.Load(model, file, "state_dict.pth", skipPrefixes: ["extra.", "shared."]);
        Assert.Equal(9, report.Loaded.Count);
        var state = model.state_dict();
        foreach (var name in report.Loaded)
            Assert.Equal(ToDoubles(file[name]), ToDoubles(state[name]));
    }

    [Fact]
    public void RefusesAPickleThatCallsOsSystemAndRunsNothing()
    {
        var path = fixture.PathOf("evil.pth");
        var error = Assert.Throws<WeightFileException>(() => WeightFile.Read(path));
        Assert.StartsWith($"{path}: refuses pickle global 'posix.system'", error.Message);
        Assert.Contains("nothing is executed", error.Message);
        Assert.False(File.Exists(fixture.Marker), "the pickled os.system call was executed");
    }

    [Fact]
    public void ATruncatedPthIsAWeightFileError()
    {
        var bytes = File.ReadAllBytes(fixture.PathOf("state_dict.pth"));
        var path = fixture.PathOf("truncated.pth");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var error = Assert.Throws<WeightFileException>(() => WeightFile.Read(path));
        Assert.StartsWith($"{path}: ", error.Message);
        Assert.Equal(path, error.FilePath);
        Assert.DoesNotContain('\n', error.Message);
    }

    private void AssertMatchesExpected(Dictionary<string, Tensor> tensors)
    {
        Assert.Equal(fixture.Names, tensors.Keys.ToList()); // file order
        foreach (var (name, expected) in fixture.Values)
        {
            var tensor = tensors[name];
            Assert.True(tensor.device_type == DeviceType.CPU, name);
            Assert.True(DTypes[expected.DType] == tensor.dtype, $"{name}: dtype {tensor.dtype}, expected {expected.DType}");
            Assert.True(expected.Shape.SequenceEqual(tensor.shape), $"{name}: shape [{string.Join(", ", tensor.shape)}]");
            if (tensor.dtype is ScalarType.Int64 or ScalarType.Bool)
                Assert.Equal(expected.Values.Select(v => v.GetInt64()), ToLongs(tensor));
            else
                Assert.Equal(expected.Values.Select(v => v.GetDouble()), ToDoubles(tensor));
        }
    }

    // TorchSharp's accessor throws on empty tensors, hence the guard.
    private static double[] ToDoubles(Tensor t) => t.numel() == 0 ? [] : t.to_type(ScalarType.Float64).contiguous().data<double>().ToArray();

    private static long[] ToLongs(Tensor t) => t.numel() == 0 ? [] : t.to_type(ScalarType.Int64).contiguous().data<long>().ToArray();
}

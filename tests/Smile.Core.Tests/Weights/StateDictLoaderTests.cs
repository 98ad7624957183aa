using Smile.Models;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Weights;

public sealed class StateDictLoaderTests
{
    /// <summary>Parameters and buffers (BatchNorm's running statistics and num_batches_tracked).</summary>
    private static nn.Module<Tensor, Tensor> Model() =>
        nn.Sequential(("a", nn.Linear(3, 4)), ("bn", HeldBatchNorm.For1d(4)), ("b", nn.Linear(4, 2)));

    /// <summary>A state dict for <see cref="Model"/> whose values differ from any fresh model's.</summary>
    private static Dictionary<string, Tensor> File()
    {
        using var source = Model();
        using Scalar five = 5, quarter = 0.25;
        return source.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.dtype == ScalarType.Int64
            ? kv.Value.detach().clone().add_(five, TensorArithmetic.One)
            : kv.Value.detach().clone().add_(quarter, TensorArithmetic.One));
    }

    private static double[] Values(Tensor t) => t.to_type(ScalarType.Float64).contiguous().data<double>().ToArray();

    [Fact]
    public void StrictLoadCopiesParametersAndBuffers()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        var file = File();
        var report = StateDictLoader.Load(model, file, "w.pth");

        var state = model.state_dict();
        Assert.Equal(9, state.Count);
        Assert.Equal(state.Keys.Order(), report.Loaded.Order());
        Assert.Empty(report.Skipped);
        foreach (var (name, tensor) in file) Assert.Equal(Values(tensor), Values(state[name]));
        Assert.Equal(5L, state["bn.num_batches_tracked"].item<long>());
        Assert.True(state["a.weight"].requires_grad, "a loaded parameter must stay trainable");
    }

    [Fact]
    public void ReportsMissingUnexpectedAndMisshapenKeysTogetherAndCopiesNothing()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        var before = Values(model.state_dict()["a.weight"]);
        var file = File();
        file.Remove("bn.running_var");
        file["head.weight"] = ones(2, 2);
        file["b.weight"] = ones(3, 4);

        var error = Assert.Throws<WeightFileException>(() => StateDictLoader.Load(model, file, "w.pth"));
        Assert.Equal("w.pth", error.FilePath);
        Assert.Equal(
            "w.pth: state dict does not match the model: 1 missing (in model, not in file): bn.running_var; " +
            "1 unexpected (in file, not in model): head.weight; 1 with a different shape: b.weight (file [3, 4], model [2, 4])",
            error.Message);
        Assert.Equal(before, Values(model.state_dict()["a.weight"]));
    }

    [Fact]
    public void LongListsStayOnOneLine()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        var file = File();
        for (var i = 0; i < 25; i++) file[$"extra.{i}"] = ones(1);
        var error = Assert.Throws<WeightFileException>(() => StateDictLoader.Load(model, file, "w.pth"));
        Assert.Contains("25 unexpected (in file, not in model): extra.0, extra.1,", error.Message);
        Assert.Contains("extra.19 and 5 more", error.Message);
        Assert.DoesNotContain("extra.20", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void SkipPrefixesIgnoresANewHeadOnBothSides()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        var headBefore = Values(model.state_dict()["b.weight"]);
        var file = File();
        file["b.weight"] = ones(10, 4); // a pretrained head for another number of classes
        file["b.bias"] = ones(10);
        file.Remove("bn.weight"); // not skipped: must still be reported
        Assert.Contains("bn.weight", Assert.Throws<WeightFileException>(() => StateDictLoader.Load(model, file, "w.pth", ["b."])).Message);

        file["bn.weight"] = ones(4);
        var report = StateDictLoader.Load(model, file, "w.pth", ["b."]);
        Assert.Equal(["b.bias", "b.weight"], report.Skipped.Order());
        Assert.DoesNotContain("b.weight", report.Loaded);
        Assert.Equal(7, report.Loaded.Count);
        Assert.Equal(headBefore, Values(model.state_dict()["b.weight"]));
        Assert.Equal(Values(file["a.weight"]), Values(model.state_dict()["a.weight"]));
    }

    [Fact]
    public void ConvertsFloat16IntoAFloat32Model()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        var file = File().ToDictionary(kv => kv.Key, kv => kv.Value.is_floating_point() ? kv.Value.to_type(ScalarType.Float16) : kv.Value);
        StateDictLoader.Load(model, file, "w.safetensors");
        var weight = model.state_dict()["a.weight"];
        Assert.Equal(ScalarType.Float32, weight.dtype);
        Assert.Equal(Values(file["a.weight"]), Values(weight)); // float16 values are exact in float32
    }

    [Fact]
    public void NonStrictLoadsWhatMatchesButStillRefusesShapeMismatches()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        var file = File();
        file.Remove("a.bias");
        file["other"] = ones(1);
        var report = StateDictLoader.Load(model, file, "w.pth", strict: false);
        Assert.Equal(8, report.Loaded.Count);
        Assert.Equal(["a.bias", "other"], report.Skipped.Order());
        Assert.Equal(Values(file["a.weight"]), Values(model.state_dict()["a.weight"]));

        file["a.weight"] = ones(4, 4);
        var error = Assert.Throws<WeightFileException>(() => StateDictLoader.Load(model, file, "w.pth", strict: false));
        Assert.Equal("w.pth: state dict does not match the model: 1 with a different shape: a.weight (file [4, 4], model [4, 3])", error.Message);
    }
}

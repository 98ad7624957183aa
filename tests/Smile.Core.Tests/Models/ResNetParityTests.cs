using Smile.Models;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Models;

/// <summary>
/// Runs torchvision (Debian's PyTorch, /usr/bin/python3) once for all five depths: seeded random weights
/// with real BatchNorm statistics, saved as .pth and safetensors, plus the outputs of a fixed input.
/// </summary>
public sealed class TorchvisionReferenceFixture : IDisposable
{
    public static readonly string[] Archs = { "resnet18", "resnet34", "resnet50", "resnet101", "resnet152" };
    public string Dir { get; } = Directory.CreateTempSubdirectory("smile-parity-").FullName;

    public TorchvisionReferenceFixture() => PythonRunner.Run("resnet_parity.py", Dir, string.Join(",", Archs));

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

public sealed class ResNetParityTests(TorchvisionReferenceFixture reference) : IClassFixture<TorchvisionReferenceFixture>
{
    private const double Tolerance = 1e-4;
    private const int NumClasses = 17, AuxClasses = 23; // as in resnet_parity.py

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var arch in TorchvisionReferenceFixture.Archs)
            foreach (var format in new[] { "pth", "safetensors" })
                data.Add(arch, format);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardMatchesTorchvision(string arch, string format)
    {
        using var scope = NewDisposeScope();
        var expected = SafetensorsFile.Read(Path.Combine(reference.Dir, $"{arch}_expected.safetensors"));
        using var model = ModelFactory.Create(arch, NumClasses, AuxClasses);
        var weights = WeightFile.Read(Path.Combine(reference.Dir, $"{arch}.{format}"));
        StateDictLoader.Load(model, weights, $"{arch}.{format}");
        var x = expected["input"];

        using (no_grad())
        {
            model.eval();
            var eval = model.call(x);
            AssertClose(expected["eval_logits"], eval.Logits, "eval logits");
            AssertClose(expected["eval_features"], eval.Features, "eval features");
            AssertClose(expected["eval_pooled"], eval.Features.mean(new long[] { 2, 3 }), "eval pooled features");
            AssertClose(expected["eval_aux"], eval.AuxLogits!, "eval aux logits");

            model.train();
            var train = model.call(x);
            AssertClose(expected["train_logits"], train.Logits, "train-mode logits");
            AssertClose(expected["train_pooled"], train.Features.mean(new long[] { 2, 3 }), "train-mode pooled features");
            AssertClose(expected["train_aux"], train.AuxLogits!, "train-mode aux logits");
        }
        var state = model.state_dict();
        AssertClose(expected["train_bn1_running_mean"], state["bn1.running_mean"], "bn1.running_mean after a train-mode forward");
        AssertClose(expected["train_bn1_running_var"], state["bn1.running_var"], "bn1.running_var after a train-mode forward");
        Assert.Equal(expected["train_bn1_num_batches_tracked"].item<long>(), state["bn1.num_batches_tracked"].item<long>());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void StateDictKeysAndShapesAreTorchvisions(string arch, string format)
    {
        using var scope = NewDisposeScope();
        var file = WeightFile.Read(Path.Combine(reference.Dir, $"{arch}.{format}"));
        using var model = ModelFactory.Create(arch, NumClasses, AuxClasses);
        var mine = model.state_dict();
        Assert.Equal(file.Keys.OrderBy(k => k, StringComparer.Ordinal), mine.Keys.OrderBy(k => k, StringComparer.Ordinal));
        foreach (var (name, tensor) in file)
            Assert.True(tensor.shape.SequenceEqual(mine[name].shape), $"{name}: file {string.Join("x", tensor.shape)}, model {string.Join("x", mine[name].shape)}");
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what) => TensorAssert.Close(expected, actual, what, Tolerance);
}

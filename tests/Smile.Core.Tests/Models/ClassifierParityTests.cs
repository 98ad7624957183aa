using Smile.Models;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Models;

/// <summary>torchvision's DenseNet-121 and a plain-PyTorch shallow CNN (python/classifier_parity.py), seeded
/// random weights with real BatchNorm statistics, saved as .pth and safetensors, and their outputs.</summary>
public sealed class ClassifierReferenceFixture : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("smile-cparity-").FullName;
    public ClassifierReferenceFixture() => PythonRunner.Run("classifier_parity.py", Dir);
    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

public sealed class ClassifierParityTests(ClassifierReferenceFixture reference) : IClassFixture<ClassifierReferenceFixture>
{
    private const double Tolerance = 1e-4;
    private const int NumClasses = 17, AuxClasses = 23; // as in classifier_parity.py

    [Theory]
    [InlineData("densenet121", "pth")]
    [InlineData("densenet121", "safetensors")]
    [InlineData("shallow_cnn", "pth")]
    [InlineData("shallow_cnn", "safetensors")]
    public void ForwardMatchesPyTorch(string arch, string format)
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
            AssertClose(expected["eval_aux"], eval.AuxLogits!, "eval aux logits");
            model.train();
            // The shallow CNN's dropout is random in train mode: compare with it off on both sides.
            foreach (var dropout in model.modules().OfType<TorchSharp.Modules.Dropout>()) dropout.eval();
            AssertClose(expected["train_logits"], model.call(x).Logits, "train-mode logits");
        }
    }

    [Theory]
    [InlineData("densenet121")]
    [InlineData("shallow_cnn")]
    public void StateDictKeysAndShapesMatch(string arch)
    {
        using var scope = NewDisposeScope();
        var file = WeightFile.Read(Path.Combine(reference.Dir, $"{arch}.pth"));
        using var model = ModelFactory.Create(arch, NumClasses, AuxClasses);
        var mine = model.state_dict();
        Assert.Equal(file.Keys.Order(StringComparer.Ordinal), mine.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, tensor) in file)
            Assert.True(tensor.shape.SequenceEqual(mine[name].shape), $"{name}: file {string.Join("x", tensor.shape)}, model {string.Join("x", mine[name].shape)}");
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what) => TensorAssert.Close(expected, actual, what, Tolerance);
}

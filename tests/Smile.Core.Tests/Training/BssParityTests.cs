using Smile.Methods;
using Smile.Models;
using Smile.Training;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

/// <summary>Runs python/bss_reference.py once (about 225 MB in a temporary folder, deleted afterwards).</summary>
public sealed class BssReferenceFixture : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("smile-bss-").FullName;

    public BssReferenceFixture() => PythonRunner.Run("bss_reference.py", Dir);

    public string File(string name) => Path.Combine(Dir, name);

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

/// <summary>
/// The bss method's loss and the gradient of every student parameter against TLlib's definition in PyTorch
/// (python/bss_reference.py) on the same resnet18 weights and batch, in train mode: six distinct images, and six
/// whose last three repeat the first three (three singular values equal to 0), each with k = 2 and k = 4.
/// Loss within 1e-5 relative; each gradient tensor within 1e-4 of its largest entry.
/// </summary>
public sealed class BssParityTests(BssReferenceFixture reference) : IClassFixture<BssReferenceFixture>
{
    [Theory]
    [InlineData("distinct_k2")]
    [InlineData("distinct_k4")]
    [InlineData("repeated_k2")]
    [InlineData("repeated_k4")]
    public void LossAndGradientsMatchPyTorch(string caseName)
    {
        using var scope = NewDisposeScope();
        var (expected, meta) = SafetensorsFile.ReadWithMetadata(reference.File($"{caseName}.safetensors"));
        using var method = Regularizers.Configure("bss", new MethodValues()
            .With("bss_k", long.Parse(meta["k"], System.Globalization.CultureInfo.InvariantCulture))
            .With("bss_eta", double.Parse(meta["eta"], System.Globalization.CultureInfo.InvariantCulture)));
        using var student = ModelFactory.Create("resnet18", 5);
        StateDictLoader.Load(student, SafetensorsFile.Read(reference.File("student.safetensors")), "student.safetensors");
        student.train();
        using var ctx = new TrainingContext(student, null, new LossOptions());

        using var losses = method.Loss(ctx, new StepBatch(expected["x"], expected["y"]), null);
        losses.Total.backward();

        AssertClose(expected["loss"].item<float>(), losses.Total.item<float>(), "loss");
        AssertClose(expected["bss"].item<float>(), losses.Terms["bss"].item<float>(), "bss term");
        foreach (var (name, parameter) in student.named_parameters())
        {
            var want = expected[$"grad.{name}"];
            var got = parameter.grad ?? throw new InvalidOperationException($"{name} has no gradient");
            Assert.True(got.isfinite().all().item<bool>(), $"{name}: non-finite gradient");
            double scale = want.abs().max().item<float>();
            double error = (got - want).abs().max().item<float>();
            Assert.True(error <= 1e-4 * scale + 1e-9, $"{caseName} {name}: gradient off by {error:G3} (largest entry {scale:G3})");
        }
    }

    [Fact]
    public void RepeatedImagesGiveZeroSmallestSingularValuesAndFiniteGradients()
    {
        using var scope = NewDisposeScope();
        var rows = randn(3, 8);
        var features = cat([rows, rows], 0).requires_grad_(true); // rank 3 of 6: three singular values are 0
        var value = BssRegularizer.SmallestSquaredSingularValues(features, 4);
        value.backward();
        Assert.True(features.grad!.isfinite().all().item<bool>());
        // The three zeros plus the smallest non-zero one, which is the smallest singular value of sqrt(2) * rows.
        var expected = linalg.svdvals(rows.Times(Math.Sqrt(2))).Squared()[-1].item<float>();
        Assert.Equal(expected, value.item<float>(), 1e-4);
    }

    [Fact]
    public void MoreValuesAskedForThanTheBatchHasSumsThemAll()
    {
        using var scope = NewDisposeScope();
        var features = randn(3, 8);
        var all = linalg.svdvals(features).Squared().sum().item<float>();
        Assert.Equal(all, BssRegularizer.SmallestSquaredSingularValues(features, 10).item<float>(), 1e-4);
        // One value: the smallest, not the largest.
        var sigma = linalg.svdvals(features);
        Assert.Equal(sigma[-1].Squared().item<float>(), BssRegularizer.SmallestSquaredSingularValues(features, 1).item<float>(), 1e-5);
    }

    private static void AssertClose(double want, double got, string what) =>
        Assert.True(Math.Abs(want - got) <= 1e-5 * Math.Abs(want) + 1e-7, $"{what}: {got} vs PyTorch {want}");
}

using System.Text.Json;
using Smile.Data;
using Smile.Models;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

/// <summary>
/// The class-weighted label cross-entropy (--class_weights) against PyTorch and scikit-learn
/// (python/class_weights_reference.py), against a hand computation, and unchanged when no weights are given.
/// </summary>
public sealed class ClassWeightedLossTests : IDisposable
{
    private static readonly Lazy<JsonElement> Reference = new(() => JsonDocument.Parse(PythonRunner.Run("class_weights_reference.py")).RootElement);
    private readonly ImageClassifier model = ModelFactory.Create("shallow_cnn", 4);
    private readonly string root = Directory.CreateTempSubdirectory("smile-classweights-").FullName;

    public void Dispose()
    {
        model.Dispose();
        Directory.Delete(root, recursive: true);
    }

    private TrainingContext Context(IReadOnlyList<double>? weights) => new(model, null, new LossOptions { ClassWeights = weights });

    private static double[] Doubles(JsonElement array) => array.EnumerateArray().Select(v => v.GetDouble()).ToArray();

    private static Tensor Logits() => tensor(Reference.Value.GetProperty("logits").EnumerateArray()
        .SelectMany(r => r.EnumerateArray().Select(v => (float)v.GetDouble())).ToArray(), [8, 4]);

    private static Tensor Labels() => tensor(Reference.Value.GetProperty("labels").EnumerateArray().Select(v => v.GetInt64()).ToArray());

    private static void AssertMatches(string name, Func<Tensor, Tensor> loss)
    {
        using var scope = NewDisposeScope();
        var z = Logits().requires_grad_(true);
        var value = loss(z);
        value.backward();
        var expected = Reference.Value.GetProperty(name);
        Assert.Equal(expected.GetProperty("loss").GetDouble(), value.item<float>(), 1e-6);
        var want = expected.GetProperty("grad").EnumerateArray().SelectMany(Doubles).ToArray();
        var got = z.grad!.data<float>().ToArray();
        for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(want[i] - got[i]) <= 1e-6, $"{name} grad[{i}]: {got[i]} vs PyTorch {want[i]}");
    }

    [Fact]
    public void HardLabelsFollowPyTorchsWeightedMean()
    {
        using var ctx = Context(Doubles(Reference.Value.GetProperty("weights")));
        AssertMatches("hard", z => LossTerms.CrossEntropy(ctx, z, Labels()));
    }

    [Fact]
    public void MixupMixesEachImagesTwoLabelWeightsByLambda()
    {
        using var ctx = Context(Doubles(Reference.Value.GetProperty("weights")));
        var permutation = Reference.Value.GetProperty("permutation").EnumerateArray().Select(v => v.GetInt64()).ToArray();
        double lam = Reference.Value.GetProperty("lambda").GetDouble();
        AssertMatches("mixed", z => LossTerms.MixedCrossEntropy(ctx, z, Labels(), new MixPlan(lam, permutation).On(z)));
    }

    [Fact]
    public void SmoothedTargetsWeighEachImageAsItsLabel()
    {
        using var ctx = Context(Doubles(Reference.Value.GetProperty("weights")));
        double eps = Reference.Value.GetProperty("eps").GetDouble();
        AssertMatches("soft", z => LossTerms.SoftCrossEntropy(ctx, z, SmoothedTargets.Uniform(Labels(), 4, eps), Labels()));
    }

    [Fact]
    public void AHandComputedBatch()
    {
        // Two images, two classes, logits 0 everywhere: every CE is ln 2. Labels (0, 1), weights (1, 3):
        // PyTorch's mean (1 * ln2 + 3 * ln2) / (1 + 3) = ln 2, while a per-batch mean of weighted terms would give 2 ln 2.
        // With logits (ln 3, 0) for the first image its CE is ln(4/3): (1 * ln(4/3) + 3 * ln 2) / 4.
        using var scope = NewDisposeScope();
        using var ctx = Context([1.0, 3.0]);
        var labels = tensor(new long[] { 0, 1 });
        Assert.Equal(Math.Log(2), LossTerms.CrossEntropy(ctx, zeros(2, 2), labels).item<float>(), 6);
        var z = tensor(new float[] { (float)Math.Log(3), 0, 0, 0 }, [2, 2]);
        Assert.Equal((Math.Log(4.0 / 3) + 3 * Math.Log(2)) / 4, LossTerms.CrossEntropy(ctx, z, labels).item<float>(), 6);
        // Per-image sample weights (SimTrans's) multiply in; the divisor stays the class weights' sum.
        Assert.Equal((0.5 * Math.Log(4.0 / 3) + 2 * 3 * Math.Log(2)) / 4, LossTerms.CrossEntropy(ctx, z, labels, tensor(new float[] { 0.5f, 2 })).item<float>(), 6);
    }

    [Fact]
    public void WithoutWeightsTheLossIsTheReferencesBitForBit()
    {
        using var scope = NewDisposeScope();
        using var ctx = Context(null);
        var z = Logits();
        var labels = Labels();
        Assert.Equal(nn.functional.cross_entropy(z, labels).item<float>(), LossTerms.CrossEntropy(ctx, z, labels).item<float>());
        var mix = new MixPlan(0.7, [3, 0, 7, 5, 1, 2, 6, 4]).On(z);
        Assert.Equal(LossTerms.MixedCrossEntropy(z, labels, mix).item<float>(), LossTerms.MixedCrossEntropy(ctx, z, labels, mix).item<float>());
        var q = SmoothedTargets.Uniform(labels, 4, 0.1);
        Assert.Equal(LossTerms.SoftCrossEntropy(z, q).item<float>(), LossTerms.SoftCrossEntropy(ctx, z, q, labels).item<float>());
        var s = rand(8);
        Assert.Equal(Smile.WeakShot.WeightedCrossEntropy.Loss(z, labels, s).item<float>(), LossTerms.CrossEntropy(ctx, z, labels, s).item<float>());
    }

    [Fact]
    public void BalancedIsScikitLearns()
    {
        var counts = Reference.Value.GetProperty("counts").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        var want = Doubles(Reference.Value.GetProperty("balanced"));
        var got = ClassLossWeights.Balanced(counts);
        for (int c = 0; c < want.Length; c++) Assert.Equal(want[c], got[c], 12);
    }

    private int folders;

    private ImageFolder Folder(params (string Name, int Count)[] classes)
    {
        var dir = Path.Combine(root, $"folder{folders++}");
        int seed = 0;
        foreach (var (name, count) in classes)
        {
            var folder = Directory.CreateDirectory(Path.Combine(dir, name)).FullName;
            for (int i = 0; i < count; i++) SyntheticPhotos.WriteJpeg(SyntheticPhotos.Render(24, 24, seed++), Path.Combine(folder, $"{i}.jpg"));
        }
        return ImageFolder.ForTraining(dir);
    }

    [Fact]
    public void BalancedCountsTheTrainingFoldersImages()
    {
        var folder = Folder(("a", 1), ("b", 3));
        Assert.Equal(new[] { 4 / (2 * 1.0), 4 / (2 * 3.0) }, ClassLossWeights.Resolve("balanced", folder)!);
        Assert.Null(ClassLossWeights.Resolve(null, folder));
    }

    [Theory]
    [InlineData("a,0.5\n\"b, with comma\",2\n", null)]
    [InlineData("a,0.5\nb,2\n", "line 2: unknown class 'b' (the training folder's classes: a, b, with comma)")]
    [InlineData("a,0.5\na,2\n", "line 2: class 'a' is given twice")]
    [InlineData("a,0.5\n\"b, with comma\",x\n", "line 2: the weight of 'b, with comma' must be a positive number, not 'x'")]
    [InlineData("a,0\n\"b, with comma\",1\n", "line 1: the weight of 'a' must be a positive number, not '0'")]
    [InlineData("\n\na,1,2\n", "line 3: expected `class,weight`, got 3 field(s)")]
    [InlineData("a,1\n", ": no weight for class 'b, with comma' (one `class,weight` line per class)")]
    public void AWeightsFileNamesItsLineOnEveryMistake(string text, string? error)
    {
        var folder = Folder(("a", 1), ("b, with comma", 1));
        var file = Path.Combine(root, "weights.csv");
        File.WriteAllText(file, text);
        if (error is null)
        {
            Assert.Equal(new[] { 0.5, 2.0 }, ClassLossWeights.FromFile(file, folder.Classes));
            return;
        }
        var e = Assert.Throws<DataException>(() => ClassLossWeights.FromFile(file, folder.Classes));
        Assert.Equal(file + (error.StartsWith(':') ? "" : " ") + error, e.Message);
    }
}

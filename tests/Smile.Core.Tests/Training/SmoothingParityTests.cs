using System.Text.Json;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

/// <summary>The ls and ils losses and their gradients against PyTorch (python/smoothing_reference.py) on the same logits.</summary>
public sealed class SmoothingParityTests
{
    private static readonly Lazy<JsonElement> Reference = new(() => JsonDocument.Parse(PythonRunner.Run("smoothing_reference.py")).RootElement);

    private static Tensor Matrix(JsonElement rows) =>
        tensor(rows.EnumerateArray().SelectMany(r => r.EnumerateArray().Select(v => (float)v.GetDouble())).ToArray(),
            [rows.GetArrayLength(), rows[0].GetArrayLength()]);

    private static (double Loss, float[] Grad) LossAndGradient(Func<Tensor, Tensor> loss)
    {
        using var scope = NewDisposeScope();
        var z = Matrix(Reference.Value.GetProperty("logits")).requires_grad_(true);
        var value = loss(z);
        value.backward();
        return (value.item<float>(), z.grad!.data<float>().ToArray());
    }

    private static Tensor Labels() => tensor(Reference.Value.GetProperty("labels").EnumerateArray().Select(v => v.GetInt64()).ToArray());

    private static void AssertClose(JsonElement expected, double loss, float[] grad)
    {
        Assert.Equal(expected.GetProperty("loss").GetDouble(), loss, 1e-6);
        var want = expected.GetProperty("grad").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(v => v.GetDouble())).ToArray();
        Assert.Equal(want.Length, grad.Length);
        for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(want[i] - grad[i]) <= 1e-6, $"grad[{i}]: {grad[i]} vs PyTorch {want[i]}");
    }

    [Fact]
    public void LabelSmoothingMatchesPyTorchsCrossEntropyWithLabelSmoothing()
    {
        foreach (var c in Reference.Value.GetProperty("ls").EnumerateArray())
        {
            double eps = c.GetProperty("eps").GetDouble();
            var (loss, grad) = LossAndGradient(z => LossTerms.SoftCrossEntropy(z, SmoothedTargets.Uniform(Labels(), z.shape[1], eps)));
            AssertClose(c, loss, grad);
        }
    }

    [Fact]
    public void InstanceLabelSmoothingMatchesTheFormulaInPyTorch()
    {
        foreach (var c in Reference.Value.GetProperty("ils").EnumerateArray())
        {
            double eps = c.GetProperty("eps").GetDouble(), t = c.GetProperty("temperature").GetDouble();
            using (NewDisposeScope())
            {
                var target = SmoothedTargets.Instance(Matrix(Reference.Value.GetProperty("teacher")), Labels(), eps, t);
                var want = c.GetProperty("target").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(v => v.GetDouble())).ToArray();
                var got = target.data<float>().ToArray();
                for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], got[i], 1e-6);
            }
            var (loss, grad) = LossAndGradient(z =>
                LossTerms.SoftCrossEntropy(z, SmoothedTargets.Instance(Matrix(Reference.Value.GetProperty("teacher")), Labels(), eps, t)));
            AssertClose(c, loss, grad);
        }
    }

    [Fact]
    public void TheWorkedExampleOfMethodsMd()
    {
        using var scope = NewDisposeScope();
        var q = SmoothedTargets.FromProbabilities(tensor(new[] { 0.95, 0.04, 0.01 }, [1, 3]), tensor(new long[] { 0 }), 0.1);
        Assert.Equal(new[] { 0.90, 0.08, 0.02 }, q.data<double>().ToArray().Select(v => Math.Round(v, 12)));
    }

    [Fact]
    public void ACertainTeacherStillSpreadsExactlyEpsOverTheWrongClasses()
    {
        // p_y = 1 - 7e-12 rounds to 1 in float32, and a naive eps * p_k / (1 - p_y) gives the wrong classes
        // thousands of times eps (this diverged a real run). The wrong classes must share eps as softmax(z / T) over them.
        using var scope = NewDisposeScope();
        var q = SmoothedTargets.Instance(tensor(new float[] { 30, 5, 0, 200, 0, 0 }, [2, 3]), tensor(new long[] { 0, 0 }), 0.1, 1);
        var v = q.data<float>().ToArray();
        Assert.All(v, x => Assert.True(float.IsFinite(x) && x >= 0 && x <= 1));
        Assert.Equal(1.0, v[0] + v[1] + v[2], 6);
        Assert.Equal(1.0, v[3] + v[4] + v[5], 6);
        Assert.Equal(0.9f, v[0], 6);
        Assert.Equal(0.1 * Math.Exp(5) / (Math.Exp(5) + 1), v[1], 6);
        Assert.Equal(0.05f, v[4], 6); // two equal wrong classes share eps equally
    }

    [Fact]
    public void LsTargetsSumToOneAndGiveTheTrueClassOneMinusEpsPlusEpsOverK()
    {
        using var scope = NewDisposeScope();
        var q = SmoothedTargets.Uniform(tensor(new long[] { 2, 0 }), 4, 0.2);
        var v = q.data<float>().ToArray();
        Assert.Equal(new[] { 0.05f, 0.05f, 0.85f, 0.05f, 0.85f, 0.05f, 0.05f, 0.05f }, v.Select(x => MathF.Round(x, 6)));
    }
}

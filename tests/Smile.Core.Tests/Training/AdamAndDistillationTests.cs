using System.Text.Json;
using Smile.Training;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using Adam = Smile.Training.Adam;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

/// <summary>Smile's Adam against torch.optim.Adam, and the kd loss against F.kl_div (python/adam_kd_reference.py).</summary>
public sealed class AdamAndDistillationTests
{
    private static readonly Lazy<JsonElement> Reference = new(() => JsonDocument.Parse(PythonRunner.Run("adam_kd_reference.py")).RootElement);

    private static float[] Flat(JsonElement rows) => rows.EnumerateArray().SelectMany(r => r.EnumerateArray().Select(v => (float)v.GetDouble())).ToArray();

    private static Tensor Matrix(JsonElement rows) => tensor(Flat(rows), [rows.GetArrayLength(), rows[0].GetArrayLength()]);

    [Fact]
    public void AdamMatchesTorchOptimAdamStepByStep()
    {
        using var scope = NewDisposeScope();
        var r = Reference.Value;
        var p = new Parameter(Matrix(r.GetProperty("p0")));
        using var adam = new Adam([("w", p, true)], lr: 0.01, weightDecay: 0.01);
        int step = 0;
        foreach (var g in r.GetProperty("grads").EnumerateArray())
        {
            adam.ZeroGrad();
            p.grad = Matrix(g);
            adam.Step();
            var want = Flat(r.GetProperty("after")[step++]);
            var got = p.data<float>().ToArray();
            for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(want[i] - got[i]) <= 1e-6, $"step {step}, [{i}]: {got[i]} vs torch {want[i]}");
        }
    }

    [Fact]
    public void AdamStateSavedAndLoadedContinuesExactly()
    {
        using var scope = NewDisposeScope();
        var r = Reference.Value;
        var grads = r.GetProperty("grads").EnumerateArray().Select(Matrix).ToArray();
        var straight = new Parameter(Matrix(r.GetProperty("p0")));
        using var a = new Adam([("w", straight, true)], 0.01, 0.01);
        foreach (var g in grads) { a.ZeroGrad(); straight.grad = g.clone(); a.Step(); }

        var first = new Parameter(Matrix(r.GetProperty("p0")));
        using var b = new Adam([("w", first, true)], 0.01, 0.01);
        for (int i = 0; i < 2; i++) { b.ZeroGrad(); first.grad = grads[i].clone(); b.Step(); }
        var saved = b.State.ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var second = new Parameter(first.detach().clone());
        using var c = new Adam([("w", second, true)], 0.01, 0.01);
        c.LoadState(saved);
        for (int i = 2; i < grads.Length; i++) { c.ZeroGrad(); second.grad = grads[i].clone(); c.Step(); }
        Assert.Equal(straight.data<float>().ToArray(), second.data<float>().ToArray());
    }

    [Fact]
    public void SgdStateIsRefusedByAdam()
    {
        using var scope = NewDisposeScope();
        var p = new Parameter(zeros(2));
        using var adam = new Adam([("w", p, true)], 0.01);
        var error = Assert.Throws<ArgumentException>(() => adam.LoadState(new Dictionary<string, Tensor> { ["w"] = zeros(2) }));
        Assert.Contains("not Adam state", error.Message);
    }

    [Fact]
    public void DistillationLossAndGradientMatchPyTorch()
    {
        var r = Reference.Value;
        foreach (var c in r.GetProperty("kd").EnumerateArray())
        {
            using var scope = NewDisposeScope();
            double t = c.GetProperty("temperature").GetDouble(), alpha = c.GetProperty("alpha").GetDouble();
            var z = Matrix(r.GetProperty("student")).requires_grad_(true);
            var labels = tensor(r.GetProperty("labels").EnumerateArray().Select(v => v.GetInt64()).ToArray());
            var p = Matrix(r.GetProperty("teacher")).DividedBy(t).softmax(1);
            var loss = DistillationRegularizer.KlDivergence(p, z.DividedBy(t)).Times(alpha * t * t).Plus(nn.functional.cross_entropy(z, labels).Times(1 - alpha));
            loss.backward();
            double want = c.GetProperty("loss").GetDouble();
            Assert.True(Math.Abs(want - loss.item<float>()) <= 1e-5 * Math.Max(1, Math.Abs(want)), $"T {t}: loss {loss.item<float>()} vs {want}");
            var wantGrad = Flat(c.GetProperty("grad"));
            var gotGrad = z.grad!.data<float>().ToArray();
            for (int i = 0; i < wantGrad.Length; i++) Assert.True(Math.Abs(wantGrad[i] - gotGrad[i]) <= 1e-6, $"T {t}, grad[{i}]: {gotGrad[i]} vs {wantGrad[i]}");
        }
    }
}

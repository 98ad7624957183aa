using Smile.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

public sealed class NesterovSgdTests
{
    private const double Momentum = 0.9, WeightDecay = 0.05;

    /// <summary>
    /// Three steps on a 2-element parameter with hand-set gradients and a learning-rate change before the third,
    /// against the update written out in doubles (torch.optim.SGD's documented Nesterov rule, coupled decay):
    /// g = grad + wd p; v = g on the first step, else mu v + g; p -= lr (g + mu v).
    /// A second parameter without decay, and a third that never has a gradient (skipped: unchanged, no buffer).
    /// </summary>
    [Fact]
    public void MatchesTheNesterovRuleWrittenOutByHand()
    {
        using var scope = NewDisposeScope();
        var decayed = new Parameter(tensor(new[] { 1.0f, -2.0f }));
        var plain = new Parameter(tensor(new[] { 0.5f, 3.0f }));
        var idle = new Parameter(tensor(new[] { 7.0f }));
        using var sgd = new NesterovSgd([("a", decayed, true), ("b", plain, false), ("c", idle, true)], lr: 0.1, Momentum, WeightDecay);

        double[][] grads = [[0.5, -1.0], [0.25, 2.0], [-1.5, 0.75]];
        double[] rates = [0.1, 0.1, 0.02];
        double[] a = [1.0, -2.0], b = [0.5, 3.0];
        double[]? va = null, vb = null;
        for (int step = 0; step < 3; step++)
        {
            sgd.LearningRate = rates[step];
            decayed.grad = tensor(grads[step].Select(g => (float)g).ToArray());
            plain.grad = tensor(grads[step].Select(g => (float)(2 * g)).ToArray());
            sgd.Step();
            HandStep(a, grads[step], rates[step], WeightDecay, ref va);
            HandStep(b, grads[step].Select(g => 2 * g).ToArray(), rates[step], 0.0, ref vb);
            AssertClose(a, decayed, $"decayed parameter after step {step + 1}");
            AssertClose(b, plain, $"undecayed parameter after step {step + 1}");
            sgd.ZeroGrad();
            Assert.Null(decayed.grad);
        }
        Assert.Equal(7.0f, idle.item<float>());
        Assert.Equal(["a", "b"], sgd.MomentumBuffers.Keys.Order());
        AssertClose(va!, sgd.MomentumBuffers["a"], "momentum buffer of a");
        AssertClose(vb!, sgd.MomentumBuffers["b"], "momentum buffer of b");
        // The numbers of the decayed parameter, worked by hand to 6 digits (step 1: g = (0.55, -1.1), v = g,
        // p = (1, -2) - 0.1 * 1.9 * g = (0.8955, -1.791)).
        Assert.Equal(0.8955, HandAfterOneStep()[0], 12);
    }

    [Fact]
    public void RestoredBuffersContinueTheSameTrajectory()
    {
        using var scope = NewDisposeScope();
        var p1 = new Parameter(tensor(new[] { 1.0f, -2.0f }));
        var p2 = new Parameter(tensor(new[] { 1.0f, -2.0f }));
        using var first = new NesterovSgd([("w", p1, true)], lr: 0.1, Momentum, WeightDecay);
        p1.grad = tensor(new[] { 0.5f, -1.0f });
        first.Step();
        using (no_grad()) p2.copy_(p1);

        using var resumed = new NesterovSgd([("w", p2, true)], lr: 0.1, Momentum, WeightDecay);
        resumed.LoadMomentumBuffers(first.MomentumBuffers);
        p1.grad = tensor(new[] { -0.25f, 0.75f });
        p2.grad = tensor(new[] { -0.25f, 0.75f });
        first.Step();
        resumed.Step();
        Assert.True(p1.equal(p2).all().item<bool>(), "a resumed optimizer must take the same step");
        Assert.False(ReferenceEquals(first.MomentumBuffers["w"], resumed.MomentumBuffers["w"]));

        var unknown = Assert.Throws<ArgumentException>(() => resumed.LoadMomentumBuffers(new Dictionary<string, Tensor> { ["v"] = zeros(2) }));
        Assert.Contains("'v'", unknown.Message);
        Assert.Throws<ArgumentException>(() => resumed.LoadMomentumBuffers(new Dictionary<string, Tensor> { ["w"] = zeros(3) }));
    }

    /// <summary>MomentumSgd with nesterov: false is torch.optim.SGD's plain momentum (SimTrans's SimNet optimizer): v = mu v + g,
    /// p -= lr v; three steps against the rule written out in doubles, with a rate change before the third.</summary>
    [Fact]
    public void PlainMomentumMatchesTorchsRuleWrittenOutByHand()
    {
        using var scope = NewDisposeScope();
        var w = new Parameter(tensor(new[] { 1.0f, -2.0f }));
        using var sgd = new MomentumSgd([("w", w, true)], lr: 0.1, Momentum, WeightDecay, nesterov: false);
        double[][] grads = [[0.5, -1.0], [0.25, 2.0], [-1.5, 0.75]];
        double[] rates = [0.1, 0.1, 0.02];
        double[] p = [1.0, -2.0];
        double[]? v = null;
        for (int step = 0; step < 3; step++)
        {
            sgd.LearningRate = rates[step];
            w.grad = tensor(grads[step].Select(g => (float)g).ToArray());
            sgd.Step();
            var g = p.Select((x, i) => grads[step][i] + WeightDecay * x).ToArray();
            v = v is null ? g : v.Select((x, i) => Momentum * x + g[i]).ToArray();
            for (int i = 0; i < p.Length; i++) p[i] -= rates[step] * v[i];
            AssertClose(p, w, $"parameter after step {step + 1}");
            AssertClose(v, sgd.MomentumBuffers["w"], $"momentum buffer after step {step + 1}");
            // Step 1 by hand: g = (0.55, -1.1), v = g, p = (1, -2) - 0.1 g = (0.945, -1.89); Nesterov gives 0.8955.
            if (step == 0) Assert.Equal(0.945, w.data<float>()[0], 6);
        }
    }

    [Fact]
    public void DuplicateNamesAreRejected()
    {
        using var scope = NewDisposeScope();
        var p = new Parameter(zeros(2));
        Assert.Throws<ArgumentException>(() => new NesterovSgd([("w", p, true), ("w", p, true)], lr: 0.1));
    }

    private static double[] HandAfterOneStep()
    {
        double[] p = [1.0, -2.0];
        double[]? v = null;
        HandStep(p, [0.5, -1.0], 0.1, WeightDecay, ref v);
        return p;
    }

    private static void HandStep(double[] p, double[] grad, double lr, double wd, ref double[]? v)
    {
        var g = new double[p.Length];
        for (int i = 0; i < p.Length; i++) g[i] = grad[i] + wd * p[i];
        if (v is null) v = (double[])g.Clone();
        else for (int i = 0; i < p.Length; i++) v[i] = Momentum * v[i] + g[i];
        for (int i = 0; i < p.Length; i++) p[i] -= lr * (g[i] + Momentum * v[i]);
    }

    private static void AssertClose(double[] expected, Tensor actual, string what)
    {
        var values = actual.to_type(ScalarType.Float64).data<double>().ToArray();
        Assert.Equal(expected.Length, values.Length);
        for (int i = 0; i < values.Length; i++)
            Assert.True(Math.Abs(values[i] - expected[i]) < 1e-6, $"{what}[{i}]: {values[i]:R}, expected {expected[i]:R}");
    }
}

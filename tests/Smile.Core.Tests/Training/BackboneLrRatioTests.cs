using Smile.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

/// <summary>The backbone's learning-rate ratio: each parameter moves by its group's rate (lr for the heads, lr x ratio for
/// the backbone) at every point of the step schedule, for SGD and Adam, and a restored optimizer continues exactly.</summary>
public sealed class BackboneLrRatioTests
{
    private const double Ratio = 0.1, BaseLr = 0.5;

    private static Func<string, double> Scales => name => ParameterGroups.LearningRateScale(name, Ratio);

    [Fact]
    public void HeadsGetTheRateAndTheBackboneTheRatioAcrossTheSchedule()
    {
        using var scope = NewDisposeScope();
        var head = new Parameter(tensor(new[] { 1.0f, 2.0f }));
        var aux = new Parameter(tensor(new[] { 1.0f }));
        var backbone = new Parameter(tensor(new[] { 3.0f, -1.0f }));
        // Momentum 0 and no decay: each step moves a parameter by exactly -rate * gradient.
        using var sgd = new MomentumSgd([("fc.weight", head, false), ("aux_fc.bias", aux, false), ("layer1.0.conv1.weight", backbone, false)],
            BaseLr, momentum: 0, weightDecay: 0, nesterov: false, lrScaleOf: Scales);
        Assert.Equal(2, sgd.GroupCount); // the heads share a group, the backbone has its own
        // max_iters 1000: the rate drops to a tenth at floor(2 * 2000 / 3) = 1333.
        Assert.Equal(1333, LearningRateSchedule.DropAt(1000));
        foreach (long iteration in new long[] { 0, 1332, 1333, 1999 })
        {
            double lr = LearningRateSchedule.At(iteration, BaseLr, 1000);
            Assert.Equal(iteration < 1333 ? BaseLr : BaseLr * 0.1, lr, 15);
            sgd.LearningRate = lr;
            Assert.Equal(lr, sgd.LearningRateOf("fc.weight"));
            Assert.Equal(lr * Ratio, sgd.LearningRateOf("layer1.0.conv1.weight"), 15);
            float h0 = head[0].item<float>(), a0 = aux[0].item<float>(), b0 = backbone[0].item<float>();
            head.grad = ones(2);
            aux.grad = ones(1);
            backbone.grad = ones(2);
            sgd.Step();
            sgd.ZeroGrad();
            Assert.Equal(h0 - lr, head[0].item<float>(), 5);
            Assert.Equal(a0 - lr, aux[0].item<float>(), 5);
            Assert.Equal(b0 - lr * Ratio, backbone[0].item<float>(), 5);
        }
    }

    [Fact]
    public void AdamScalesItsStepByTheGroupRate()
    {
        using var scope = NewDisposeScope();
        var head = new Parameter(tensor(new[] { 0.0f }));
        var backbone = new Parameter(tensor(new[] { 0.0f }));
        using var adam = new Smile.Training.Adam([("fc.weight", head, false), ("conv1.weight", backbone, false)], 0.01, lrScaleOf: Scales);
        head.grad = tensor(new[] { 2.0f });
        backbone.grad = tensor(new[] { 2.0f });
        adam.Step();
        // Adam's first step is -lr * g / (|g| + eps) = -lr (to 1e-8 relative).
        Assert.Equal(-0.01, head.item<float>(), 6);
        Assert.Equal(-0.001, backbone.item<float>(), 6);
    }

    [Fact]
    public void ARestoredOptimizerWithTheSameRatioContinuesExactly()
    {
        using var scope = NewDisposeScope();
        (Parameter Head, Parameter Backbone) Make() => (new Parameter(tensor(new[] { 1.0f, -2.0f })), new Parameter(tensor(new[] { 0.5f, 4.0f })));
        float[][] grads = [[0.5f, -1.0f], [0.25f, 2.0f], [-1.5f, 0.75f]];
        var (h1, b1) = Make();
        using var straight = new NesterovSgdWithScales([("fc.weight", h1, true), ("layer4.1.bn2.weight", b1, true)]);
        var (h2, b2) = Make();
        using var first = new NesterovSgdWithScales([("fc.weight", h2, true), ("layer4.1.bn2.weight", b2, true)]);
        for (int step = 0; step < 2; step++)
        {
            foreach (var (o, h, b) in new[] { (straight.Sgd, h1, b1), (first.Sgd, h2, b2) })
            {
                h.grad = tensor(grads[step]);
                b.grad = tensor(grads[step]);
                o.LearningRate = step == 0 ? 0.1 : 0.05;
                o.Step();
                o.ZeroGrad();
            }
        }
        var (h3, b3) = Make();
        using (no_grad())
        {
            h3.copy_(h2);
            b3.copy_(b2);
        }
        using var resumed = new NesterovSgdWithScales([("fc.weight", h3, true), ("layer4.1.bn2.weight", b3, true)]);
        resumed.Sgd.LoadState(first.Sgd.State);
        foreach (var (o, h, b) in new[] { (straight.Sgd, h1, b1), (resumed.Sgd, h3, b3) })
        {
            h.grad = tensor(grads[2]);
            b.grad = tensor(grads[2]);
            o.LearningRate = 0.005;
            o.Step();
        }
        Assert.Equal(h1.data<float>().ToArray(), h3.data<float>().ToArray());
        Assert.Equal(b1.data<float>().ToArray(), b3.data<float>().ToArray());
        Assert.NotEqual(h1.data<float>().ToArray(), new[] { 1.0f, -2.0f });
    }

    [Fact]
    public void ANegativeScaleIsRefused()
    {
        using var scope = NewDisposeScope();
        var p = new Parameter(tensor(new[] { 1.0f }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MomentumSgd([("conv1.weight", p, true)], 0.1, 0.9, 0, true, _ => -1));
    }

    /// <summary>The fine-tuning optimizer (Nesterov 0.9, decay 1e-4) with the ratio's scales.</summary>
    private sealed class NesterovSgdWithScales(IEnumerable<(string, Parameter, bool)> parameters) : IDisposable
    {
        public IOptimizer Sgd { get; } = Optimizers.Create("sgd", parameters, 0.1, 1e-4, Scales);
        public void Dispose() => Sgd.Dispose();
    }
}

using Smile.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Tests.Models;

/// <summary>
/// FoldedResNet changes arithmetic (each BatchNorm folded into its convolution), so it is checked against the unfolded
/// eval-mode forward on BatchNorms with non-trivial statistics and affine parameters, and after the weights change
/// (SMILE's mean teacher) against the refolded copy.
/// </summary>
public class FoldedResNetTests
{
    [Theory]
    [InlineData("resnet18", 32)]
    [InlineData("resnet50", 64)]
    public void FoldedForwardEqualsTheEvalModeForward(string arch, int size)
    {
        torch.random.manual_seed(3);
        using var net = (ResNet)ModelFactory.Create(arch, 10, 7);
        RandomizeNorms(net);
        net.eval();
        using var x = randn(3, 3, size, size);
        using var folded = new FoldedResNet(net);
        using var scope = NewDisposeScope();
        ClassifierOutput expected;
        using (no_grad()) expected = net.call(x);
        var actual = folded.Forward(x);
        Close(expected.Logits, actual.Logits, $"{arch} logits");
        Close(expected.Features, actual.Features, $"{arch} features");
        Close(expected.AuxLogits!, actual.AuxLogits!, $"{arch} aux logits");
        Assert.False(actual.Logits.requires_grad);
    }

    /// <summary>ResNet-18 only: a ResNet-50 channels-last forward is what crashed oneDNN on the CPUs that hide their cache
    /// sizes (docs/PLATFORM-NOTES.md); ResNet-18 ran there.</summary>
    [Fact]
    public void ChannelsLastFoldingGivesTheNchwOutputsAndKeepsNhwcWeightsThroughARefold()
    {
        torch.random.manual_seed(6);
        using var net = (ResNet)ModelFactory.Create("resnet18", 10);
        RandomizeNorms(net);
        net.eval();
        using var x = randn(3, 3, 32, 32);
        using var xl = Smile.Training.CudaSpeed.ToChannelsLast(x);
        using var nchw = new FoldedResNet(net);
        using var nhwc = new FoldedResNet(net, channelsLast: true);
        using var scope = NewDisposeScope();
        static bool Nhwc(Tensor w) => w.stride(1) == 1 && w.stride(3) == w.shape[1];
        // 1x1 weights are left out: their NCHW and NHWC layouts are the same memory (LibTorch reads either as channels-last)
        Assert.All(nhwc.FoldedWeights.Where(w => w.shape[2] > 1), w => Assert.True(Nhwc(w), $"weight [{string.Join(", ", w.shape)}] strides [{string.Join(", ", w.stride())}]"));
        Assert.DoesNotContain(nchw.FoldedWeights.Where(w => w.shape[2] > 1), Nhwc);
        Close(nchw.Forward(x).Logits, nhwc.Forward(xl).Logits, "channels-last logits");
        using Scalar keep = 0.9, noise = 0.05;
        using (no_grad())
            foreach (var p in net.parameters()) p.mul_(keep).add_(randn_like(p), noise);
        nchw.Refold();
        nhwc.Refold();
        Assert.All(nhwc.FoldedWeights.Where(w => w.shape[2] > 1), w => Assert.True(Nhwc(w), "a refold lost the NHWC strides"));
        Close(nchw.Forward(x).Logits, nhwc.Forward(xl).Logits, "refolded channels-last logits");
    }

    [Fact]
    public void RefoldFollowsChangedWeightsAndTheCopyDoesNotBefore()
    {
        torch.random.manual_seed(4);
        using var net = (ResNet)ModelFactory.Create("resnet18", 10);
        RandomizeNorms(net);
        net.eval();
        using var x = randn(2, 3, 32, 32);
        using var folded = new FoldedResNet(net);
        using var scope = NewDisposeScope();
        using Scalar keep = 0.9, noise = 0.05;
        using (no_grad())
            foreach (var p in net.parameters()) p.mul_(keep).add_(randn_like(p), noise); // an EMA-like move of every weight

        Tensor expected;
        using (no_grad()) expected = net.call(x).Logits;
        double stale = (folded.Forward(x).Logits - expected).abs().max().item<float>();
        Assert.True(stale > 1e-3 * expected.abs().max().item<float>(), $"the folded copy followed the weights without a refold (max |difference| {stale:E2})");
        folded.Refold();
        Close(expected, folded.Forward(x).Logits, "refolded logits");
    }

    [Fact]
    public void TheSmileTeacherIsRefoldedAfterEachMeanTeacherUpdate()
    {
        torch.random.manual_seed(5);
        using var student = (ResNet)ModelFactory.Create("resnet18", 10, 1000);
        using var teacher = (ResNet)ModelFactory.Create("resnet18", 1000);
        RandomizeNorms(teacher);
        teacher.eval();
        using var ctx = new Smile.Training.TrainingContext(student, teacher, new Smile.Training.LossOptions());
        using var x = randn(2, 3, 32, 32);
        using var scope = NewDisposeScope();
        Tensor Unfolded() { using (no_grad()) return teacher.call(x).Logits; }

        var before = ctx.TeacherForward(x).Logits;
        Close(Unfolded(), before, "teacher logits before the update");
        Smile.Methods.Regularizers.Configure("smile", new Smile.Training.MethodValues().With("ema_decay", 0.5)).AfterStep(ctx, 0); // iteration 0: the EMA runs (decay 0.5: a large move)
        var after = ctx.TeacherForward(x).Logits;
        Close(Unfolded(), after, "teacher logits after the update");
        Assert.True((after - before).abs().max().item<float>() > 1e-3 * before.abs().max().item<float>(), "the update did not move the teacher");
    }

    /// <summary>Under autocast the folded forward reads weights rounded once per fold instead of letting autocast round
    /// the fp32 ones at every convolution: the outputs are the same bits, before and after a refold, in both layouts,
    /// and outside autocast it computes in fp32 again.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void UnderAutocastTheRoundedCopiesGiveWhatRoundingAtEachCallGives(bool channelsLast)
    {
        torch.random.manual_seed(8);
        using var net = (ResNet)ModelFactory.Create("resnet18", 10, 7);
        RandomizeNorms(net);
        net.eval();
        using var plain = randn(2, 3, 32, 32);
        using var x = channelsLast ? Smile.Training.CudaSpeed.ToChannelsLast(plain) : plain.alias();
        // The fused ReLUs and sums (FoldedResNetFusionTests) round differently: off here, to compare the rounding alone.
        using var copies = new FoldedResNet(net, channelsLast) { MayFuse = false };
        using var eachCall = new FoldedResNet(net, channelsLast) { KeepsRoundedCopies = false };
        var bf16 = Smile.Training.MixedPrecision.Create("bf16", out _);
        using var scope = NewDisposeScope();
        static bool Same(Tensor a, Tensor b) => a.equal(b).all().item<bool>();
        void SameOutputs(string when)
        {
            ClassifierOutput a, b;
            using (bf16.Enter(CPU))
            {
                a = copies.Forward(x);
                b = eachCall.Forward(x);
            }
            Assert.False(Same(a.Logits, copies.Forward(x).Logits), $"{when}: the forward under autocast computed in fp32"); // outputs come back as fp32
            Assert.True(Same(a.Features, b.Features) && Same(a.Logits, b.Logits), $"{when}: the rounded copies changed the outputs");
        }
        SameOutputs("first forward");
        using Scalar keep = 0.9, noise = 0.05;
        using (no_grad())
            foreach (var p in net.parameters()) p.mul_(keep).add_(randn_like(p), noise);
        copies.Refold();
        eachCall.Refold();
        SameOutputs("after a refold");
        Assert.True(Same(copies.Forward(x).Logits, eachCall.Forward(x).Logits), "outside autocast the forward is not the fp32 one");
    }

    /// <summary>BatchNorm statistics and affine parameters far from the identity, so that a folding mistake shows.</summary>
    internal static void RandomizeNorms(ResNet net)
    {
        using var noGrad = no_grad();
        foreach (var (_, module) in net.named_modules())
        {
            if (module is not BatchNorm bn) continue;
            bn.running_mean!.copy_(randn_like(bn.running_mean).Times(0.2));
            bn.running_var!.copy_(rand_like(bn.running_var).Plus(0.5));
            bn.weight!.copy_(randn_like(bn.weight).Times(0.3).Plus(1));
            bn.bias!.copy_(randn_like(bn.bias).Times(0.1));
        }
    }

    /// <summary>Float rounding only: within 1e-4 of the largest expected magnitude.</summary>
    private static void Close(Tensor expected, Tensor actual, string what) =>
        TensorAssert.Close(expected, actual, what, 1e-4 * expected.abs().max().item<float>() + 1e-6);
}

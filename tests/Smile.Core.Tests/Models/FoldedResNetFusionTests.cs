using Smile.Models;
using Smile.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Models;

/// <summary>
/// The folded forward hands each ReLU and residual sum to oneDNN's convolution before it in a channels-last CPU forward
/// (FoldedResNet.FusesOnOneDnn, Native/OneDnnFusedConvolution.cs). Checked against the same forward with the separate
/// ops: the same outputs in fp32, at least as close to fp32 as the separate ops in bf16 (the sum is rounded once
/// instead of twice), every convolution that should be fused fused, and nothing of the caller's written.
/// </summary>
public class FoldedResNetFusionTests
{
    /// <summary>Whether this machine's oneDNN takes the fused ops in fp32 (a CPU whose cache sizes oneDNN cannot use
    /// and that OneDnnCacheSizes does not mend keeps the separate ops: then the count must be zero).</summary>
    private static bool FusesHere => PointwiseConv2d.OneDnnSeesCaches && OneDnnFusedConvolution.Available;

    [Theory]
    [InlineData("resnet18", 32, 17)] // the stem and both convolutions of 8 blocks (the 3 downsamples stay separate)
    [InlineData("resnet50", 64, 49)] // the stem and all three convolutions of 16 blocks (the 4 downsamples stay separate)
    public void InFp32TheFusedForwardGivesTheSeparateOpsOutputs(string arch, int size, int fusable)
    {
        torch.random.manual_seed(11);
        using var net = Network(arch);
        using var x = Smile.Training.CudaSpeed.ToChannelsLast(randn(3, 3, size, size));
        using var keep = x.clone();
        using var fused = new FoldedResNet(net, channelsLast: true);
        using var separate = new FoldedResNet(net, channelsLast: true) { MayFuse = false };
        using var scope = NewDisposeScope();
        long before = FoldedResNet.FusedCalls;
        var a = fused.Forward(x);
        long calls = FoldedResNet.FusedCalls - before;
        var b = separate.Forward(x);
        Assert.Equal(FusesHere ? fusable : 0, calls);
        Assert.Equal(before + calls, FoldedResNet.FusedCalls); // the separate forward fused nothing
        Close(b.Logits, a.Logits, $"{arch} logits", 1e-5);
        Close(b.Features, a.Features, $"{arch} features", 1e-5);
        Close(b.AuxLogits!, a.AuxLogits!, $"{arch} aux logits", 1e-5);
        Assert.True(x.equal(keep).all().item<bool>(), "the fused forward wrote into its input");
        Assert.Equal(b.Features.stride(), a.Features.stride()); // channels-last, as the separate ops leave it
        var again = fused.Forward(x);
        Assert.True(again.Logits.equal(a.Logits).all().item<bool>(), "a second fused forward gave other logits");
    }

    /// <summary>In bf16 the fused sum is added to the convolution's fp32 accumulator and rounded once, where the separate
    /// add rounds the convolution's output first: the fused forward is as close to the fp32 forward as the separate one
    /// (in 2-norm, within 10%), and the two bf16 forwards are within bf16 rounding of each other.</summary>
    [Fact]
    public void InBf16TheFusedForwardIsAsCloseToFp32AsTheSeparateOps()
    {
        torch.random.manual_seed(12);
        using var net = Network("resnet18");
        using var x = Smile.Training.CudaSpeed.ToChannelsLast(randn(4, 3, 32, 32));
        using var fused = new FoldedResNet(net, channelsLast: true);
        using var separate = new FoldedResNet(net, channelsLast: true) { MayFuse = false };
        var bf16 = Smile.Training.MixedPrecision.Create("bf16", out _);
        using var scope = NewDisposeScope();
        var exact = separate.Forward(x).Features.to(ScalarType.Float64);
        Tensor a, b;
        bool oneDnnBf16;
        long before = FoldedResNet.FusedCalls;
        using (bf16.Enter(CPU))
        {
            oneDnnBf16 = LowPrecisionConvolution.Rounding is null; // no hand-rounded route: oneDNN's own bf16 kernels
            a = fused.Forward(x).Features.to(ScalarType.Float64);
            b = separate.Forward(x).Features.to(ScalarType.Float64);
        }
        Assert.Equal(FusesHere && oneDnnBf16 ? 17 : 0, FoldedResNet.FusedCalls - before);
        double fusedError = (a - exact).norm().item<double>(), separateError = (b - exact).norm().item<double>();
        double scale = exact.norm().item<double>();
        Assert.True(separateError > 0 && separateError < 0.02 * scale, $"the separate bf16 forward is {separateError / scale:P2} off fp32");
        Assert.True(fusedError <= 1.1 * separateError, $"fused bf16 {fusedError / scale:P3} off fp32, separate {separateError / scale:P3}");
        Assert.True((a - b).norm().item<double>() < 0.02 * scale, "the fused and separate bf16 forwards differ by more than rounding");
    }

    [Fact]
    public void AnNchwForwardKeepsTheSeparateOps()
    {
        torch.random.manual_seed(13);
        using var net = Network("resnet18");
        using var x = randn(2, 3, 32, 32);
        using var nchw = new FoldedResNet(net);
        using var scope = NewDisposeScope();
        long before = FoldedResNet.FusedCalls;
        nchw.Forward(x);
        Assert.Equal(before, FoldedResNet.FusedCalls);
    }

    /// <summary>An eval-mode ResNet with BatchNorm statistics and affine parameters far from the identity.</summary>
    private static ResNet Network(string arch)
    {
        var net = (ResNet)ModelFactory.Create(arch, 10, 7);
        FoldedResNetTests.RandomizeNorms(net);
        net.eval();
        return net;
    }

    private static void Close(Tensor expected, Tensor actual, string what, double relative) =>
        TensorAssert.Close(expected, actual, what, relative * expected.abs().max().item<float>() + 1e-6);
}

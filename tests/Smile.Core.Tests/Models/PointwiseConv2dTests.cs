using Smile.Models;
using Smile.Native;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Models;

/// <summary>
/// <see cref="PointwiseConv2d"/>'s channels-last routes on CPU: a 1x1 convolution as one matrix product over the
/// pixels, which keeps oneDNN's channels-last 1x1 convolution primitives out of every model where oneDNN cannot work
/// with the CPU's cache sizes (there they divide by zero for some shapes and compute others wrongly,
/// docs/PLATFORM-NOTES.md), and oneDNN's own convolution where it can. Its output, input gradient and weight gradient equal the
/// NCHW convolution's (whose forward and stride-1 backward are safe there), strided or not, with a bias or without,
/// in fp32 and inside a bf16 rounding region, by either route; and every 1x1 convolution of a channels-last model goes
/// the route the machine calls for.
/// </summary>
public sealed class PointwiseConv2dTests
{
    [Theory]
    [InlineData(1, false, 9)]
    [InlineData(2, false, 9)] // odd input size: the pick keeps the last row and column, as the strided convolution does
    [InlineData(1, true, 9)]
    [InlineData(2, true, 9)]
    [InlineData(2, false, 8)] // a size the stride divides: no padding
    [InlineData(3, true, 7)]
    // Shapes whose channels-last fp32 1x1 convolution oneDNN computes wrongly (outputs off by about 2-4 at a scale of
    // 3-7) with the one-byte cache sizes it reads on a CPU that hides them (docs/PLATFORM-NOTES.md, "Which 1x1
    // convolutions crash, and why"; OneDnnCacheSizes): routed to oneDNN before that was mended, these two cases failed there.
    [InlineData(1, false, 7, 512, 512)]
    [InlineData(1, true, 5, 1024, 1024)]
    public void AChannelsLastCallIsAMatrixProductEqualToTheNchwConvolution(long stride, bool bias, long size, long inChannels = 16, long outChannels = 24)
    {
        using var scope = NewDisposeScope();
        torch.random.manual_seed(5);
        var weight = randn(outChannels, inChannels, 1, 1).Times(1 / Math.Sqrt(inChannels)).requires_grad_();
        var b = bias ? randn(outChannels, requires_grad: true) : null;
        var x = randn(2, inChannels, size, size);
        long outSize = (size + stride - 1) / stride;
        var upstream = randn(2, outChannels, outSize, outSize);

        var (nchw, nchwGradX, nchwGradW) = Run(x, weight, b, stride, upstream, channelsLast: false);
        // The matrix product, and then the route this machine takes (oneDNN's convolution where it sees cache sizes).
        foreach (bool forced in new[] { true, false })
        {
            long before = PointwiseConv2d.MatrixProducts;
            Tensor nhwc, nhwcGradX, nhwcGradW;
            using (forced ? PointwiseConv2d.RouteToOneDnn(false) : null)
                (nhwc, nhwcGradX, nhwcGradW) = Run(x, weight, b, stride, upstream, channelsLast: true);
            string route = forced ? "matrix product" : PointwiseConv2d.OneDnnSeesCaches ? "oneDNN" : "matrix product (oneDNN sees no caches)";
            Assert.Equal(forced || !PointwiseConv2d.OneDnnSeesCaches ? 1 : 0, PointwiseConv2d.MatrixProducts - before);
            Assert.Equal(nchw.shape, nhwc.shape);
            Assert.True(nhwc.stride(1) == 1, $"{route}: output strides [{string.Join(", ", nhwc.stride())}]: not channels-last");
            // the gradient that flows on to the layers below keeps the layout (a slice's backward made it NCHW)
            Assert.True(nhwcGradX.stride(1) == 1, $"{route}: input gradient strides [{string.Join(", ", nhwcGradX.stride())}]: not channels-last");
            Close(nchw, nhwc, $"{route}: output");
            Close(nchwGradX, nhwcGradX, $"{route}: input gradient");
            Close(nchwGradW, nhwcGradW, $"{route}: weight gradient");
        }
    }

    [Fact]
    public void InsideABf16RegionTheMatrixProductRoundsAsTheConvolutionDoes()
    {
        using var scope = NewDisposeScope();
        torch.random.manual_seed(6);
        var weight = randn(24, 16, 1, 1);
        var bias = randn(24);
        var x = randn(2, 16, 6, 6);
        Tensor Forward(Tensor input)
        {
            using var autocast = Autocast.Enter(DeviceType.CPU, ScalarType.BFloat16);
            using var rounding = LowPrecisionConvolution.Enter(ScalarType.BFloat16);
            return PointwiseConv2d.Apply(input, weight, bias, 1);
        }
        long rounded = LowPrecisionConvolution.RoundedCalls;
        var nchw = Forward(x);
        var nhwc = Forward(CudaSpeed.ToChannelsLast(x));
        Assert.Equal(2, LowPrecisionConvolution.RoundedCalls - rounded);
        Assert.Equal(ScalarType.BFloat16, nhwc.dtype);
        // the same rounded operands summed in fp32 in another order: at most one bf16 step apart, in a few elements
        var differ = (nchw.to(ScalarType.Float32) - nhwc.to(ScalarType.Float32)).abs() > nchw.to(ScalarType.Float32).abs().Times(1.0 / 128);
        Assert.True(differ.to(ScalarType.Float32).mean().item<float>() <= 0.02f, "the rounded matrix product is not the rounded convolution");
    }

    public static IEnumerable<object[]> Architectures => ModelFactory.Names.Select(n => new object[] { n });

    /// <summary>Training-mode forward and backward, and for a ResNet the folded forward of evaluation and SMILE's
    /// teacher; DenseNet's 1x1 convolutions are nn.Conv2d modules (through LowPrecisionConvolution.Call).</summary>
    [Theory]
    [MemberData(nameof(Architectures))]
    public void EveryPointwiseConvolutionOfAChannelsLastModelIsAMatrixProductUnlessOneDnnSeesCaches(string arch)
    {
        using var scope = NewDisposeScope();
        torch.random.manual_seed(7);
        using var model = ModelFactory.Create(arch, 5);
        long pointwise = model.modules().Count(m => m is PointwiseConv2d || m is TorchSharp.Modules.Conv2d c && c.kernel_size.All(k => k == 1));
        if (arch.StartsWith("resnet", StringComparison.Ordinal) || arch.StartsWith("densenet", StringComparison.Ordinal))
            Assert.True(pointwise >= 3, $"{arch}: {pointwise} pointwise convolutions");
        var x = CudaSpeed.ToChannelsLast(randn(2, 3, 32, 32));
        model.train();
        // Where oneDNN cannot work with the caches every one is a matrix product (forced here, whatever this machine is);
        // where it can (this machine's route, fp32), none is.
        foreach (bool seesCaches in new[] { false, PointwiseConv2d.OneDnnSeesCaches })
        {
            using var route = PointwiseConv2d.RouteToOneDnn(seesCaches);
            long expected = seesCaches ? 0 : pointwise;
            long before = PointwiseConv2d.MatrixProducts;
            model.call(x).Logits.sum().backward();
            Assert.Equal(expected, PointwiseConv2d.MatrixProducts - before);
            if (model is not ResNet resnet) continue;
            using var folded = new FoldedResNet(resnet, channelsLast: true);
            before = PointwiseConv2d.MatrixProducts;
            folded.Forward(x);
            Assert.Equal(expected, PointwiseConv2d.MatrixProducts - before);
        }
    }

    private static (Tensor Output, Tensor GradX, Tensor GradW) Run(Tensor x, Tensor weight, Tensor? bias, long stride, Tensor upstream, bool channelsLast)
    {
        var leaf = (channelsLast ? CudaSpeed.ToChannelsLast(x) : x.clone()).requires_grad_();
        // A view of the leaf, as a layer's input is: a leaf's own .grad is laid out like the leaf whatever the
        // backward computed, a view's gradient as the backward made it.
        var input = leaf.alias();
        var y = PointwiseConv2d.Apply(input, weight, bias, stride);
        var grads = torch.autograd.grad([(y * upstream).sum()], [input, weight]);
        return (y.detach(), grads[0], grads[1]);
    }

    private static void Close(Tensor expected, Tensor actual, string what)
    {
        double gap = (expected - actual).abs().max().item<float>();
        double scale = expected.abs().max().item<float>();
        Assert.True(gap <= 1e-5 * Math.Max(1, scale), $"{what}: differs by {gap} (scale {scale})");
    }
}

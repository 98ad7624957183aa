using Smile.Models;
using Smile.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Models;

/// <summary>
/// <see cref="LowPrecisionConvolution"/> against the definition of a bf16 (fp16) convolution that sums in fp32, as
/// cuDNN's and oneDNN's do: the rounded operands convolved in fp64, the output rounded once, and the gradients
/// rounded the same way through autocast's casts. It agrees up to the order of fp32 sums; a control that skips the
/// operands' rounding is far off, so the comparison can tell. LibTorch's own kernels on this CPU (generic ones
/// where the CPU lacks the precision's instructions) agree in the forward; their backward rounds partial sums, which
/// the test prints for docs/PERFORMANCE.md.
/// </summary>
public sealed class LowPrecisionConvolutionTests
{
    private sealed record Outcome(Tensor Output, Tensor InputGrad, Tensor WeightGrad) : IDisposable
    {
        public void Dispose()
        {
            Output.Dispose();
            InputGrad.Dispose();
            WeightGrad.Dispose();
        }
    }

    private enum Route { LibTorch, Rounded, UnroundedOperands, Exact }

    // One strided 3x3 convolution with a bias, fp32 input (as the first layer's images) and fp32 weights.
    private static Outcome Run(Route route, ScalarType type)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(5);
        var x = randn([4, 16, 15, 15], generator: gen).requires_grad_();
        var conv = nn.Conv2d(16, 24, kernel_size: 3, stride: 2, padding: 1, bias: true);
        using (no_grad())
        {
            using Scalar spread = 0.2;
            conv.weight!.copy_(randn(conv.weight.shape, generator: gen).mul_(spread));
            conv.bias!.copy_(randn(conv.bias.shape, generator: gen));
        }
        var g = randn([4, 24, 8, 8], generator: gen);
        Tensor y;
        using (Autocast.Enter(DeviceType.CPU, type))
        {
            if (route == Route.Exact)
            {
                // the definition: the rounded operands' convolution in fp64, its output rounded once
                using var off = Autocast.Suspend(DeviceType.CPU);
                Tensor R(Tensor t) => t.to(type).to(ScalarType.Float64);
                var bias = conv.bias!;
                y = nn.functional.conv2d(R(x), R(conv.weight!), R(bias), strides: [2, 2], padding: [1, 1]).to(type);
            }
            else if (route == Route.UnroundedOperands)
            {
                using var fp32 = Autocast.Suspend(DeviceType.CPU);
                y = conv.call(x).to(type);
            }
            else
            {
                using var rounding = route == Route.Rounded ? LowPrecisionConvolution.Enter(type) : null;
                y = LowPrecisionConvolution.Call(conv, x);
            }
        }
        Assert.Equal(type, y.dtype);
        y.to(ScalarType.Float32).mul(g).sum().backward();
        return new Outcome(y.to(ScalarType.Float32).MoveToOuterDisposeScope(), x.grad!.clone().MoveToOuterDisposeScope(),
            conv.weight!.grad!.clone().MoveToOuterDisposeScope());
    }

    /// <summary>The share of elements that differ, and the largest difference in units of the low precision's
    /// relative step (2^-7 for bf16, 2^-10 for fp16) of the larger magnitude: one rounding apart is at most 1.</summary>
    private static (double Share, double Steps) Distance(Tensor expected, Tensor actual, ScalarType type)
    {
        using var scope = NewDisposeScope();
        var diff = (expected - actual).abs();
        using Scalar zero = 0;
        double share = diff.gt(zero).to(ScalarType.Float64).mean().item<double>();
        double step = type == ScalarType.BFloat16 ? 1.0 / 128 : 1.0 / 1024;
        // below the smallest normal number (fp16's 2^-14) a step is that of the smallest normal
        double smallestNormal = type == ScalarType.BFloat16 ? 1.2e-38 : 1.0 / 16384;
        using Scalar floor = smallestNormal, unit = step;
        var scale = maximum(expected.abs(), actual.abs()).clamp_min(floor).mul(unit);
        return (share, diff.div(scale).max().to(ScalarType.Float64).item<double>());
    }

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void TheRoundedConvolutionIsALowPrecisionConvolutionSummingInFp32(ScalarType type)
    {
        using var exact = Run(Route.Exact, type);
        using var rounded = Run(Route.Rounded, type);
        using var native = Run(Route.LibTorch, type);
        using var control = Run(Route.UnroundedOperands, type);
        foreach (var (what, e, r, n, c) in new[]
                 {
                     ("output", exact.Output, rounded.Output, native.Output, control.Output),
                     ("input gradient", exact.InputGrad, rounded.InputGrad, native.InputGrad, control.InputGrad),
                     ("weight gradient", exact.WeightGrad, rounded.WeightGrad, native.WeightGrad, control.WeightGrad),
                 })
        {
            var (share, steps) = Distance(e, r, type);
            var (nativeShare, nativeSteps) = Distance(e, n, type);
            var (controlShare, _) = Distance(e, c, type);
            Console.WriteLine($"{type} {what} against the fp64 definition: rounded differs in {share:P2} (max {steps:F2} steps), LibTorch's kernel in {nativeShare:P2} (max {nativeSteps:F2}), unrounded operands in {controlShare:P2}");
            // a few elements a rounding apart, or two where an fp32 sum cancels (its error is relative to the terms)
            Assert.True(share <= 0.02 && steps <= 2.0, $"{what}: {share:P2} of the elements differ, up to {steps:F2} steps");
            Assert.True(controlShare >= 0.2, $"{what}: the unrounded control differs in only {controlShare:P2}");
            // LibTorch's own forward on a CPU without the precision's oneDNN kernels is the same arithmetic (its
            // backward rounds partial sums; docs/PERFORMANCE.md). oneDNN's bf16 kernels, where the CPU has them (and
            // Smile uses them instead of the route), round differently (docs/PERFORMANCE.md, "oneDNN's bf16 kernels").
            if (what == "output" && !HasOneDnnKernels(type)) Assert.True(nativeShare <= 0.02 && nativeSteps <= 2.0, $"LibTorch's output: {nativeShare:P2} differ, up to {nativeSteps:F2} steps");
        }
    }

    private static bool HasOneDnnKernels(ScalarType type) =>
        type == ScalarType.BFloat16 ? Smile.Diagnostics.CpuInfo.Machine.HasOneDnnBf16 : Smile.Diagnostics.CpuInfo.Machine.HasOneDnnFp16;

    public static IEnumerable<object[]> Architectures => ModelFactory.Names.Select(name => new object[] { name });

    [Theory]
    [MemberData(nameof(Architectures))]
    public void EveryConvolutionOfAModelGoesThroughTheRoute(string arch)
    {
        const int size = 32;
        using var scope = NewDisposeScope();
        using var model = ModelFactory.Create(arch, 5);
        long convolutions = model.modules().Count(m => m is TorchSharp.Modules.Conv2d or PointwiseConv2d);
        Assert.True(convolutions >= 3, $"{arch}: {convolutions} convolutions found");
        model.eval();
        var x = randn(2, 3, size, size);
        long before = LowPrecisionConvolution.RoundedCalls;
        using (no_grad())
        using (Autocast.Enter(DeviceType.CPU, ScalarType.BFloat16))
        using (LowPrecisionConvolution.Enter(ScalarType.BFloat16))
            model.call(x);
        Assert.Equal(convolutions, LowPrecisionConvolution.RoundedCalls - before);
        // and the folded inference network of a ResNet
        if (model is ResNet resnet)
        {
            using var folded = new FoldedResNet(resnet);
            before = LowPrecisionConvolution.RoundedCalls;
            using (no_grad())
            using (Autocast.Enter(DeviceType.CPU, ScalarType.BFloat16))
            using (LowPrecisionConvolution.Enter(ScalarType.BFloat16))
                folded.Forward(x);
            Assert.Equal(convolutions, LowPrecisionConvolution.RoundedCalls - before);
        }
    }

    [Fact]
    public void OutsideARegionACallIsTheModulesOwnForward()
    {
        using var scope = NewDisposeScope();
        var conv = nn.Conv2d(3, 4, kernel_size: 3, padding: 1);
        var x = randn(2, 3, 6, 6);
        Assert.Null(LowPrecisionConvolution.Rounding);
        Assert.Equal(0.0, (LowPrecisionConvolution.Call(conv, x) - conv.call(x)).abs().max().item<float>());
        using (LowPrecisionConvolution.Enter(ScalarType.BFloat16))
            Assert.Equal(ScalarType.BFloat16, LowPrecisionConvolution.Call(conv, x).dtype);
        Assert.Null(LowPrecisionConvolution.Rounding);
        Assert.Throws<ArgumentException>(() => LowPrecisionConvolution.Enter(ScalarType.Float32));
    }
}

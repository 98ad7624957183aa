using Smile.Native;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Models;

/// <summary>
/// Convolutions under CPU autocast on a CPU whose LibTorch has no fast kernels for the low precision (bf16 without
/// AVX-512 BW/VL/DQ, fp16 without AVX-512 FP16): there LibTorch computes a bf16 convolution with its generic kernels,
/// 15-31x slower than fp32 (docs/PERFORMANCE.md, "Mixed precision"). Inside a <see cref="Enter"/> region this class
/// computes the same arithmetic through the fp32 kernels instead: the input, weight and bias rounded to the low
/// precision, the convolution in fp32, the output rounded to the low precision. A product of two bf16 (or fp16)
/// numbers is exact in fp32 and a low-precision convolution (cuDNN's, oneDNN's) sums in fp32, so the result is
/// theirs up to the order of the fp32 sums; the backward rounds the gradients the same way, through the casts' own
/// backwards (tests/Smile.Core.Tests/Models/LowPrecisionConvolutionTests.cs checks all three against an fp64
/// definition; LibTorch's generic kernels agree in the forward, and their backward rounds partial sums besides).
/// Outside a region (fp32, CUDA, CPUs with the kernels) every call is the plain convolution.
/// </summary>
public static class LowPrecisionConvolution
{
    [ThreadStatic] private static ScalarType? rounding;
    [ThreadStatic] private static long roundedCalls;

    /// <summary>How many convolutions this thread has rounded (a test checks that a model's forward rounds all of
    /// its convolutions, so that a new layer cannot skip the route unnoticed).</summary>
    public static long RoundedCalls => roundedCalls;

    /// <summary>The low precision this thread's convolutions round to, or null when they are plain.</summary>
    public static ScalarType? Rounding => rounding;

    /// <summary>Rounds this thread's convolutions to <paramref name="type"/> (bf16 or fp16) until the handle is
    /// disposed, which restores the previous state. Enter it inside the CPU autocast region it stands in for.</summary>
    public static IDisposable Enter(ScalarType type)
    {
        if (type is not (ScalarType.BFloat16 or ScalarType.Float16))
            throw new ArgumentException($"a low precision is bf16 or fp16, not {type}", nameof(type));
        var previous = rounding;
        rounding = type;
        return new Restore(previous);
    }

    /// <summary><paramref name="conv"/>'s forward of <paramref name="x"/> (its hooks included outside a region); a 1x1
    /// convolution of a channels-last CPU tensor as <see cref="PointwiseConv2d"/> computes it.</summary>
    public static Tensor Call(Conv2d conv, Tensor x)
    {
        if (PointwiseConv2d.Takes(conv, x)) return PointwiseConv2d.Apply(x, conv.weight!, conv.bias, 1);
        return rounding is null
            ? conv.call(x)
            : Conv2d(x, conv.weight!, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups);
    }

    /// <summary><c>nn.functional.conv2d</c>, rounded inside a region.</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias = null, long[]? strides = null, long[]? padding = null,
        long[]? dilation = null, long groups = 1)
    {
        if (rounding is not { } type) return nn.functional.conv2d(x, weight, bias, strides, padding, dilation, groups);
        roundedCalls++;
        using var scope = NewDisposeScope();
        using var fp32 = Autocast.Suspend(x.device.type);
        var y = nn.functional.conv2d(Rounded(x, type), Rounded(weight, type), bias is null ? null : Rounded(bias, type),
            strides, padding, dilation, groups);
        return y.to(type).MoveToOuterDisposeScope();
    }

    /// <summary><c>nn.functional.linear</c> standing in for a 1x1 convolution (<see cref="PointwiseConv2d"/>), rounded
    /// inside a region as <see cref="Conv2d"/> rounds.</summary>
    public static Tensor Linear(Tensor rows, Tensor weight, Tensor? bias)
    {
        if (rounding is not { } type) return nn.functional.linear(rows, weight, bias);
        roundedCalls++;
        using var scope = NewDisposeScope();
        using var fp32 = Autocast.Suspend(rows.device.type);
        var y = nn.functional.linear(Rounded(rows, type), Rounded(weight, type), bias is null ? null : Rounded(bias, type));
        return y.to(type).MoveToOuterDisposeScope();
    }

    // Autocast would cast an fp32 operand to the low precision; an operand already in it is widened exactly.
    private static Tensor Rounded(Tensor t, ScalarType type) =>
        t.dtype == type ? t.to(ScalarType.Float32) : t.to(type).to(ScalarType.Float32);

    private sealed class Restore(ScalarType? previous) : IDisposable
    {
        private bool done;

        public void Dispose()
        {
            if (done) return;
            done = true;
            rounding = previous;
        }
    }
}

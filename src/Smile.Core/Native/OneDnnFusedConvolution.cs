using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Smile.Native;

/// <summary>
/// oneDNN's convolution with its bias, a ReLU and, for a residual block's last convolution, the residual sum done in
/// the same pass over the output: LibTorch's inference-only ops <c>mkldnn::_convolution_pointwise</c> and
/// <c>mkldnn::_convolution_pointwise_.binary</c>, which TorchSharp 0.107 does not expose, reached through the C
/// functions LibTorch 2.10 exports for ahead-of-time compiled models (<c>aoti_torch_cpu_mkldnn__convolution_pointwise*</c>:
/// a tensor handle there is an <c>at::Tensor*</c>, as TorchSharp's is, and a result is a new one the caller owns).
/// No autograd and no autocast: the operands must already be in the arithmetic's type. The ReLU is exact (it commutes
/// with rounding); the sum is added to the convolution's fp32 accumulator before the one rounding to the output type,
/// where the separate ops round twice (Models/FoldedResNet.cs uses it; docs/PERFORMANCE.md, "The folded forward's
/// ReLUs and residual sums inside oneDNN's convolution"). The names are probed once (<see cref="Available"/>);
/// <c>SMILE_ONEDNN_FUSION=off</c> turns the fused ops off (to measure the separate ones).
/// </summary>
public static class OneDnnFusedConvolution
{
    private const string Lib = "libtorch_cpu";
    private const string ConvolveName = "aoti_torch_cpu_mkldnn__convolution_pointwise";
    private const string ConvolveIntoName = "aoti_torch_cpu_mkldnn__convolution_pointwise_binary_";

    [DllImport(Lib, EntryPoint = ConvolveName)]
    private static extern unsafe int Convolve(IntPtr x, IntPtr weight, IntPtr* bias, long* padding, long paddingLength,
        long* stride, long strideLength, long* dilation, long dilationLength, long groups, byte* attr, double** scalars,
        long scalarCount, byte** algorithm, IntPtr* result);

    [DllImport(Lib, EntryPoint = ConvolveIntoName)]
    private static extern unsafe int ConvolveInto(IntPtr other, IntPtr x, IntPtr weight, IntPtr* bias, long* padding,
        long paddingLength, long* stride, long strideLength, long* dilation, long dilationLength, long groups, byte* binaryAttr,
        double* alpha, byte** unaryAttr, double** unaryScalars, long unaryScalarCount, byte** unaryAlgorithm, IntPtr* result);

    // NUL-terminated names of the post-ops, alive for the process ("add" in the in-place variant is oneDNN's sum post-op).
    private static readonly IntPtr Relu = Marshal.StringToHGlobalAnsi("relu");
    private static readonly IntPtr Add = Marshal.StringToHGlobalAnsi("add");

    /// <summary>The environment variable that turns the fused ops off when it is <c>off</c>.</summary>
    public const string Variable = "SMILE_ONEDNN_FUSION";

    private static readonly Lazy<string?> Missing = new(() =>
        string.Equals(Environment.GetEnvironmentVariable(Variable), "off", StringComparison.OrdinalIgnoreCase)
            ? $"{Variable}=off"
            : LibTorchExports.FirstMissing(Lib, [ConvolveName, ConvolveIntoName]));

    /// <summary>Whether the loaded LibTorch exports both functions and they are not turned off.</summary>
    public static bool Available => Missing.Value is null;

    /// <summary>Why the fused ops are not used (a missing name, or the variable); null when available.</summary>
    public static string? Unavailable => Missing.Value;

    /// <summary>relu(conv(x, weight) + bias), a new tensor in x's layout and type.</summary>
    public static unsafe Tensor ConvolveRelu(Tensor x, Tensor weight, Tensor bias, long stride, long padding)
    {
        long* pad = stackalloc long[] { padding, padding };
        long* step = stackalloc long[] { stride, stride };
        long* dilation = stackalloc long[] { 1, 1 };
        IntPtr biasHandle = bias.Handle, result;
        int status = Convolve(x.Handle, weight.Handle, &biasHandle, pad, 2, step, 2, dilation, 2, 1, (byte*)Relu, null, 0, null, &result);
        GC.KeepAlive(x);
        GC.KeepAlive(weight);
        GC.KeepAlive(bias);
        return Wrap(status, result, "convolution + ReLU");
    }

    /// <summary>sum = relu(conv(x, weight) + bias + sum), written into <paramref name="sum"/> (same shape, layout and
    /// type as the convolution's output); returns a new handle to it.</summary>
    public static unsafe Tensor ConvolveAddReluInto(Tensor sum, Tensor x, Tensor weight, Tensor bias, long stride, long padding)
    {
        long* pad = stackalloc long[] { padding, padding };
        long* step = stackalloc long[] { stride, stride };
        long* dilation = stackalloc long[] { 1, 1 };
        IntPtr biasHandle = bias.Handle, relu = Relu, result;
        int status = ConvolveInto(sum.Handle, x.Handle, weight.Handle, &biasHandle, pad, 2, step, 2, dilation, 2, 1, (byte*)Add,
            null, (byte**)&relu, null, 0, null, &result);
        GC.KeepAlive(sum);
        GC.KeepAlive(x);
        GC.KeepAlive(weight);
        GC.KeepAlive(bias);
        return Wrap(status, result, "convolution + residual sum + ReLU");
    }

    // LibTorch's shim catches the op's exception, logs it to stderr and returns non-zero.
    private static Tensor Wrap(int status, IntPtr result, string what)
    {
        if (status != 0 || result == IntPtr.Zero)
            throw new InvalidOperationException($"LibTorch's fused oneDNN {what} failed (its message is on stderr)");
        return Tensor.UnsafeCreateTensor(result);
    }
}

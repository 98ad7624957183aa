using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Models;

/// <summary>
/// A bias-free 1x1 convolution with a stride, parameter named <c>weight</c> like torchvision's Conv2d.
/// On CPU some of oneDNN's 1x1 convolution primitives divide by zero on virtual machines that hide their cache sizes
/// (SIGFPE kills the process), and its channels-last fp32 ones return wrong outputs for many shapes there, as long as
/// oneDNN works with the one-byte cache sizes it reads on such a machine (docs/PLATFORM-NOTES.md; mended by
/// <see cref="Native.OneDnnCacheSizes"/> on the CPUs it recognises). So on the CPU this class computes the same
/// arithmetic another way (<see cref="Apply"/>): a strided 1x1 convolution as a strided slice (for a channels-last input,
/// a view that picks the same pixels) followed by a stride-1 convolution with the same weight, and a stride-1
/// channels-last 1x1 convolution as one matrix product over the image's pixels unless oneDNN has cache sizes it can
/// work with. Other devices (CUDA) use the ordinary convolution.
/// </summary>
public sealed class PointwiseConv2d : nn.Module<Tensor, Tensor>
{
    [ThreadStatic] private static long matrixProducts;

    private readonly Parameter weight;
    private readonly long stride;

    public PointwiseConv2d(long inChannels, long outChannels, long stride) : base(nameof(PointwiseConv2d))
    {
        this.stride = stride;
        weight = new Parameter(empty(outChannels, inChannels, 1, 1));
        // torchvision's ResNet init for every conv: Kaiming normal, fan_out, ReLU gain.
        nn.init.kaiming_normal_(weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
        RegisterComponents();
    }

    /// <summary>The convolution weight (out x in x 1 x 1), for code that folds it (<see cref="FoldedResNet"/>).</summary>
    internal Parameter Weight => weight;

    /// <summary>How many 1x1 convolutions this thread has computed as matrix products (a test checks that every one of a
    /// channels-last model's does where oneDNN does not see the caches, so that none can reach the crashing primitives
    /// unnoticed).</summary>
    public static long MatrixProducts => matrixProducts;

    /// <summary>Whether a strided call on this device is computed by slicing (decided here, once, for the whole model).</summary>
    public static bool SlicesStride(Device device) => device.type == DeviceType.CPU;

    public override Tensor forward(Tensor input) => Apply(input, weight, null, stride);

    /// <summary>The 1x1 convolution of <paramref name="x"/> by <paramref name="weight"/> (out x in x 1 x 1) and the
    /// optional <paramref name="bias"/>, computed on CPU as described on the class (the folded forward's 1x1
    /// convolutions go through here too). Inside a <see cref="LowPrecisionConvolution"/> region it rounds as a
    /// convolution would.</summary>
    internal static Tensor Apply(Tensor x, Tensor weight, Tensor? bias, long stride)
    {
        if (stride != 1 && SlicesStride(x.device))
        {
            using var sliced = MultipliesMatrices(x)
                ? EveryNthPixel(x, stride)
                : x[TensorIndex.Ellipsis, TensorIndex.Slice(null, null, stride), TensorIndex.Slice(null, null, stride)];
            return Apply(sliced, weight, bias, 1);
        }
        if (stride == 1 && MultipliesMatricesFor(x))
            return MatrixProduct(x, weight, bias);
        return LowPrecisionConvolution.Conv2d(x, weight, bias, stride == 1 ? null : [stride, stride]);
    }

    /// <summary>Whether a stride-1 call on <paramref name="x"/> is computed as a matrix product rather than by oneDNN
    /// (the folded forward fuses a ReLU or sum into oneDNN's convolutions only: FoldedResNet).</summary>
    internal static bool MultipliesMatricesFor(Tensor x) => MultipliesMatrices(x) && !LeftToOneDnn(x);

    /// <summary>Whether <paramref name="conv"/> (an nn.Conv2d, as DenseNet's) is a plain 1x1 convolution that
    /// <see cref="Apply"/> computes as a matrix product for <paramref name="x"/>.</summary>
    internal static bool Takes(Conv2d conv, Tensor x) =>
        conv.kernel_size.All(k => k == 1) && conv.stride.All(s => s == 1) && conv.dilation.All(d => d == 1) && conv.groups == 1
        && conv.padding_type is null or Padding.Valid && (conv.padding is null || conv.padding.All(p => p == 0))
        && conv.padding_mode == PaddingModes.Zeros && MultipliesMatrices(x);

    [ThreadStatic] private static bool? oneDnnOverride;

    /// <summary>Whether oneDNN has cache sizes it can work with: the CPU shows them, or <see cref="Native.OneDnnCacheSizes"/>
    /// gave it its defaults (only then are its channels-last 1x1 convolutions right and safe on a machine that hides them).</summary>
    public static bool OneDnnSeesCaches => !Diagnostics.CpuInfo.Machine.CachesHidden || Native.OneDnnCacheSizes.Mended;

    /// <summary>Sends this thread's stride-1 channels-last 1x1 convolutions to oneDNN (true) or to the matrix product
    /// (false) whatever the machine, until disposed: for tests of each route.</summary>
    internal static IDisposable RouteToOneDnn(bool oneDnn)
    {
        var previous = oneDnnOverride;
        oneDnnOverride = oneDnn;
        return new Restore(() => oneDnnOverride = previous);
    }

    // Where oneDNN sees the caches, its channels-last 1x1 convolution: in fp32 it took 5.7-29 ms for a forward and
    // backward at ResNet-50's shapes where the matrix product took 14-89 ms; with bf16 kernels under autocast it was
    // faster at 56x56 to 14x14 and slower at 7x7 (docs/PERFORMANCE.md, "oneDNN told its cache sizes are unknown").
    private static bool LeftToOneDnn(Tensor x)
    {
        if (!(oneDnnOverride ?? OneDnnSeesCaches)) return false;
        bool lowPrecisionKernels = LowPrecisionConvolution.Rounding is null && Native.Autocast.IsOn(x.device.type);
        if (!lowPrecisionKernels) return true;
        var shape = x.shape;
        return shape[2] * shape[3] >= 14 * 14;
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        private bool done;

        public void Dispose()
        {
            if (done) return;
            done = true;
            undo();
        }
    }

    // A channels-last CPU tensor (its channels adjacent in memory, each pixel's after the previous one's; a strided
    // slice of one too; a single pixel's channels are adjacent whatever the layout): oneDNN's channels-last 1x1
    // convolutions are among those that crash (above), and its pixels are already the rows of a matrix, so the
    // product copies no input but a slice's.
    private static bool MultipliesMatrices(Tensor x)
    {
        if (x.device.type != DeviceType.CPU || x.dim() != 4) return false;
        var shape = x.shape; // each read is a native call and a new array
        return shape[1] > 1 && x.stride(1) == 1 && (x.stride(3) >= shape[1] || shape[2] * shape[3] == 1);
    }

    // x[..., ::s, ::s] of a channels-last tensor, as a view whose backward is channels-last too. A slice's backward
    // writes its gradient into an NCHW zero tensor; through the residual sums that layout reached most of a
    // channels-last ResNet's backward, and every elementwise op (add, ReLU's and BatchNorm's backward) that met
    // two layouts ran several times slower (docs/PERFORMANCE.md, "Channels-last gradients"). Here the pixels are
    // the rows of [N, H/s, s, W/s, s, C] and the pick is two selects, whose backward fills a zero tensor of that
    // shape: NHWC memory. A size that s does not divide is padded first (the padding is never picked).
    private static Tensor EveryNthPixel(Tensor x, long s)
    {
        var shape = x.shape;
        long n = shape[0], c = shape[1], h = shape[2], w = shape[3];
        long padH = (s - h % s) % s, padW = (s - w % s) % s;
        using var padded = padH + padW == 0 ? x.alias() : nn.functional.pad(x, [0, padW, 0, padH]);
        using var pixels = padded.permute(0, 2, 3, 1).contiguous(); // no copy when already NHWC in memory
        using var blocks = pixels.view(n, (h + padH) / s, s, (w + padW) / s, s, c);
        using var columns = blocks.select(4, 0);
        using var picked = columns.select(2, 0);
        return picked.permute(0, 3, 1, 2);
    }

    // [N, C, H, W] in channels-last = [N*H*W, C] rows; times the weight's [C, O] gives [N*H*W, O], which viewed back is
    // the convolution's [N, O, H, W] output in channels-last.
    private static Tensor MatrixProduct(Tensor x, Tensor weight, Tensor? bias)
    {
        matrixProducts++;
        var shape = x.shape;
        long n = shape[0], c = shape[1], h = shape[2], w = shape[3], o = weight.shape[0];
        using var pixels = x.permute(0, 2, 3, 1);
        using var rows = pixels.reshape(n * h * w, c);
        using var matrix = weight.view(o, c);
        using var product = LowPrecisionConvolution.Linear(rows, matrix, bias);
        using var image = product.view(n, h, w, o);
        return image.permute(0, 3, 1, 2);
    }
}

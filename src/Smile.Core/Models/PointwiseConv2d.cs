using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Models;

/// <summary>
/// A bias-free 1x1 convolution with a stride, parameter named <c>weight</c> like torchvision's Conv2d.
/// On CPU a strided 1x1 convolution is computed as a strided slice followed by a stride-1 convolution
/// with the same weight: mathematically identical, and it never reaches the oneDNN backward-data
/// primitive of strided 1x1 convolutions that divides by zero on virtual machines that hide their
/// cache sizes (SIGFPE kills the process; see docs/PLATFORM-NOTES.md). Other devices (CUDA) use
/// the ordinary strided convolution.
/// </summary>
public sealed class PointwiseConv2d : nn.Module<Tensor, Tensor>
{
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

    /// <summary>Whether a strided call on this device is computed by slicing (decided here, once, for the whole model).</summary>
    public static bool SlicesStride(Device device) => device.type == DeviceType.CPU;

    public override Tensor forward(Tensor input)
    {
        if (stride == 1)
            return LowPrecisionConvolution.Conv2d(input, weight);
        if (!SlicesStride(input.device))
            return LowPrecisionConvolution.Conv2d(input, weight, strides: new[] { stride, stride });
        using var sliced = input[TensorIndex.Ellipsis, TensorIndex.Slice(null, null, stride), TensorIndex.Slice(null, null, stride)];
        return LowPrecisionConvolution.Conv2d(sliced, weight);
    }
}

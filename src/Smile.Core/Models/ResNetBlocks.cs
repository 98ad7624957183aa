using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Smile.Models;

/// <summary>Shared layers of the two residual blocks, built with torchvision's names and initialisation.</summary>
internal static class ResNetLayers
{
    public static Conv2d Conv3x3(long inPlanes, long outPlanes, long stride = 1)
    {
        var conv = Conv2d(inPlanes, outPlanes, kernel_size: 3, stride: stride, padding: 1, bias: false);
        init.kaiming_normal_(conv.weight, mode: init.FanInOut.FanOut, nonlinearity: init.NonlinearityType.ReLU);
        return conv;
    }

    /// <summary>torchvision's <c>downsample</c>: Sequential(1x1 conv with stride, BatchNorm) named "0" and "1".</summary>
    public static Module<Tensor, Tensor>? Downsample(long inPlanes, long outPlanes, long stride) =>
        stride != 1 || inPlanes != outPlanes
            ? Sequential(("0", new PointwiseConv2d(inPlanes, outPlanes, stride)), ("1", HeldBatchNorm.For2d(outPlanes)))
            : null;
}

/// <summary>
/// A residual block seen as two halves around the output of its last convolution before that convolution's
/// BatchNorm (its "inner map": conv3's in a Bottleneck, conv2's in a BasicBlock), for methods that read or edit that
/// map (DELTA's feature maps and channel ablation, ResNet.ForwardWithStageMaps). forward(x) equals
/// FromInnerMap(x, InnerMap(x)); forward itself does not go through these, so it costs nothing extra.
/// </summary>
internal interface IResidualBlock
{
    /// <summary>The last convolution's output, before its BatchNorm, the residual add and the ReLU.</summary>
    Tensor InnerMap(Tensor x);

    /// <summary>The block's output from its input <paramref name="x"/> and an inner map (possibly edited); the map is not modified.</summary>
    Tensor FromInnerMap(Tensor x, Tensor inner);
}

/// <summary>torchvision's BasicBlock (ResNet-18/34): two 3x3 convolutions.</summary>
internal sealed class BasicBlock : Module<Tensor, Tensor>, IResidualBlock
{
    public const int Expansion = 1;

    private readonly Conv2d conv1;
    private readonly HeldBatchNorm bn1;
    private readonly Conv2d conv2;
    private readonly HeldBatchNorm bn2;
    private readonly Module<Tensor, Tensor>? downsample;

    public BasicBlock(long inPlanes, long planes, long stride) : base(nameof(BasicBlock))
    {
        conv1 = ResNetLayers.Conv3x3(inPlanes, planes, stride);
        bn1 = HeldBatchNorm.For2d(planes);
        conv2 = ResNetLayers.Conv3x3(planes, planes);
        bn2 = HeldBatchNorm.For2d(planes);
        downsample = ResNetLayers.Downsample(inPlanes, planes * Expansion, stride);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = bn1.call(LowPrecisionConvolution.Call(conv1, x)).relu_();
        y = bn2.call(LowPrecisionConvolution.Call(conv2, y));
        var identity = downsample is null ? x : downsample.call(x);
        return y.AddInPlace(identity).relu_().MoveToOuterDisposeScope();
    }

    public Tensor InnerMap(Tensor x)
    {
        using var scope = NewDisposeScope();
        return LowPrecisionConvolution.Call(conv2, bn1.call(LowPrecisionConvolution.Call(conv1, x)).relu_()).MoveToOuterDisposeScope();
    }

    public Tensor FromInnerMap(Tensor x, Tensor inner)
    {
        using var scope = NewDisposeScope();
        var identity = downsample is null ? x : downsample.call(x);
        return bn2.call(inner).AddInPlace(identity).relu_().MoveToOuterDisposeScope();
    }
}

/// <summary>torchvision's Bottleneck (ResNet-50/101/152), "v1.5": the stride sits on the 3x3 convolution.</summary>
internal sealed class Bottleneck : Module<Tensor, Tensor>, IResidualBlock
{
    public const int Expansion = 4;

    private readonly PointwiseConv2d conv1;
    private readonly HeldBatchNorm bn1;
    private readonly Conv2d conv2;
    private readonly HeldBatchNorm bn2;
    private readonly PointwiseConv2d conv3;
    private readonly HeldBatchNorm bn3;
    private readonly Module<Tensor, Tensor>? downsample;

    public Bottleneck(long inPlanes, long planes, long stride) : base(nameof(Bottleneck))
    {
        conv1 = new PointwiseConv2d(inPlanes, planes, 1);
        bn1 = HeldBatchNorm.For2d(planes);
        conv2 = ResNetLayers.Conv3x3(planes, planes, stride);
        bn2 = HeldBatchNorm.For2d(planes);
        conv3 = new PointwiseConv2d(planes, planes * Expansion, 1);
        bn3 = HeldBatchNorm.For2d(planes * Expansion);
        downsample = ResNetLayers.Downsample(inPlanes, planes * Expansion, stride);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = bn1.call(conv1.call(x)).relu_();
        y = bn2.call(LowPrecisionConvolution.Call(conv2, y)).relu_();
        y = bn3.call(conv3.call(y));
        var identity = downsample is null ? x : downsample.call(x);
        return y.AddInPlace(identity).relu_().MoveToOuterDisposeScope();
    }

    public Tensor InnerMap(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = bn1.call(conv1.call(x)).relu_();
        y = bn2.call(LowPrecisionConvolution.Call(conv2, y)).relu_();
        return conv3.call(y).MoveToOuterDisposeScope();
    }

    public Tensor FromInnerMap(Tensor x, Tensor inner)
    {
        using var scope = NewDisposeScope();
        var identity = downsample is null ? x : downsample.call(x);
        return bn3.call(inner).AddInPlace(identity).relu_().MoveToOuterDisposeScope();
    }
}

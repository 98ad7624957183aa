using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Smile.Models;

/// <summary>torchvision's _DenseLayer: BN-ReLU-1x1 conv to bn_size * growth channels, BN-ReLU-3x3 conv to growth
/// channels, on the concatenation of every earlier feature map of its block (drop rate 0, as densenet121).</summary>
internal sealed class DenseLayer : Module<Tensor, Tensor>
{
    private readonly HeldBatchNorm norm1;
    private readonly ReLU relu1;
    private readonly Conv2d conv1;
    private readonly HeldBatchNorm norm2;
    private readonly ReLU relu2;
    private readonly Conv2d conv2;

    public DenseLayer(long inputFeatures, long growthRate, long bottleneckSize) : base(nameof(DenseLayer))
    {
        norm1 = HeldBatchNorm.For2d(inputFeatures);
        relu1 = ReLU();
        conv1 = Conv2d(inputFeatures, bottleneckSize * growthRate, kernel_size: 1, bias: false);
        norm2 = HeldBatchNorm.For2d(bottleneckSize * growthRate);
        relu2 = ReLU();
        conv2 = Conv2d(bottleneckSize * growthRate, growthRate, kernel_size: 3, padding: 1, bias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor concatenated)
    {
        using var scope = NewDisposeScope();
        var y = LowPrecisionConvolution.Call(conv1, relu1.call(norm1.call(concatenated)));
        return LowPrecisionConvolution.Call(conv2, relu2.call(norm2.call(y))).MoveToOuterDisposeScope();
    }
}

/// <summary>torchvision's _DenseBlock: layers named denselayer1..N, each fed all earlier outputs; returns their concatenation.</summary>
internal sealed class DenseBlock : Module<Tensor, Tensor>
{
    private readonly List<DenseLayer> layers = [];

    public DenseBlock(int count, long inputFeatures, long growthRate, long bottleneckSize) : base(nameof(DenseBlock))
    {
        for (int i = 0; i < count; i++)
        {
            var layer = new DenseLayer(inputFeatures + i * growthRate, growthRate, bottleneckSize);
            layers.Add(layer);
            register_module($"denselayer{i + 1}", layer);
        }
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var features = new List<Tensor> { x };
        foreach (var layer in layers)
            features.Add(layer.call(cat(features, 1)));
        return cat(features, 1).MoveToOuterDisposeScope();
    }
}

/// <summary>torchvision's _Transition: BN-ReLU-1x1 conv (halving the channels) then 2x2 average pooling.</summary>
internal sealed class Transition : Module<Tensor, Tensor>
{
    private readonly HeldBatchNorm norm;
    private readonly ReLU relu;
    private readonly Conv2d conv;
    private readonly AvgPool2d pool;

    public Transition(long inputFeatures, long outputFeatures) : base(nameof(Transition))
    {
        norm = HeldBatchNorm.For2d(inputFeatures);
        relu = ReLU();
        conv = Conv2d(inputFeatures, outputFeatures, kernel_size: 1, bias: false);
        pool = AvgPool2d(kernel_size: 2, stride: 2);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return pool.call(LowPrecisionConvolution.Call(conv, relu.call(norm.call(x)))).MoveToOuterDisposeScope();
    }
}

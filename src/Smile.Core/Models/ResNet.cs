using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Smile.Models;

/// <summary>
/// torchvision's ResNet (v1.5), with torchvision's state-dict key names (<c>conv1.weight</c>,
/// <c>layer1.0.downsample.0.weight</c>, <c>fc.bias</c>, ...), so ImageNet weights published for
/// torchvision or timm load by name. Optionally carries <c>aux_fc</c>: a second head on the pooled
/// features with the source classifier's shape, which SMILE initialises from the teacher's <c>fc</c>.
/// </summary>
public sealed class ResNet : ImageClassifier
{
    private readonly Conv2d conv1;
    private readonly HeldBatchNorm bn1;
    private readonly MaxPool2d maxpool;
    private readonly Sequential layer1;
    private readonly Sequential layer2;
    private readonly Sequential layer3;
    private readonly Sequential layer4;
    private readonly Linear fc;
    private readonly Linear? aux_fc;

    public ResNetSpec Spec { get; }
    public override string Architecture => Spec.Name;
    public override string HeadName => "fc";
    public override int NumClasses { get; }
    public override int? AuxClasses { get; }
    /// <summary>Channels of <see cref="ClassifierOutput.Features"/> (512 for ResNet-18/34, 2048 for deeper ones).</summary>
    public override int FeatureChannels { get; }

    public ResNet(ResNetSpec spec, int numClasses, int? auxClasses = null) : base(spec.Name)
    {
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses), "a classifier needs at least one class");
        if (auxClasses is < 1) throw new ArgumentOutOfRangeException(nameof(auxClasses), "an aux head needs at least one class");
        Spec = spec;
        NumClasses = numClasses;
        AuxClasses = auxClasses;
        int expansion = spec.Bottleneck ? Bottleneck.Expansion : BasicBlock.Expansion;
        FeatureChannels = 512 * expansion;

        conv1 = Conv2d(3, 64, kernel_size: 7, stride: 2, padding: 3, bias: false);
        init.kaiming_normal_(conv1.weight, mode: init.FanInOut.FanOut, nonlinearity: init.NonlinearityType.ReLU);
        bn1 = HeldBatchNorm.For2d(64);
        maxpool = MaxPool2d(kernel_size: 3, stride: 2, padding: 1);
        long inPlanes = 64;
        layer1 = MakeLayer(spec, ref inPlanes, 64, spec.Blocks[0], 1);
        layer2 = MakeLayer(spec, ref inPlanes, 128, spec.Blocks[1], 2);
        layer3 = MakeLayer(spec, ref inPlanes, 256, spec.Blocks[2], 2);
        layer4 = MakeLayer(spec, ref inPlanes, 512, spec.Blocks[3], 2);
        fc = Linear(FeatureChannels, numClasses);
        aux_fc = auxClasses is int s ? Linear(FeatureChannels, s) : null;
        RegisterComponents();
    }

    private static Sequential MakeLayer(ResNetSpec spec, ref long inPlanes, long planes, int blocks, long stride)
    {
        var modules = new List<(string, Module<Tensor, Tensor>)>();
        for (int i = 0; i < blocks; i++)
        {
            long s = i == 0 ? stride : 1;
            Module<Tensor, Tensor> block = spec.Bottleneck
                ? new Bottleneck(inPlanes, planes, s)
                : new BasicBlock(inPlanes, planes, s);
            modules.Add((i.ToString(System.Globalization.CultureInfo.InvariantCulture), block));
            inPlanes = planes * (spec.Bottleneck ? Bottleneck.Expansion : BasicBlock.Expansion);
        }
        return Sequential(modules);
    }

    /// <summary>The last feature map (N x C x H x W), before pooling.</summary>
    public Tensor ForwardFeatures(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = maxpool.call(bn1.call(LowPrecisionConvolution.Call(conv1, x)).relu_());
        y = layer4.call(layer3.call(layer2.call(layer1.call(y))));
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>The four stages' last blocks' inner convolutions, by torchvision name: for ResNet-50
    /// "layer1.2.conv3", "layer2.3.conv3", "layer3.5.conv3", "layer4.2.conv3" (conv2 for a BasicBlock network).
    /// <see cref="ForwardWithStageMaps"/> returns their outputs before BatchNorm, in this order.</summary>
    public IReadOnlyList<string> StageMapLayers => Enumerable.Range(0, 4)
        .Select(s => $"layer{s + 1}.{Spec.Blocks[s] - 1}.{(Spec.Bottleneck ? "conv3" : "conv2")}").ToArray();

    private Sequential Stage(int stage) => stage switch
    {
        0 => layer1, 1 => layer2, 2 => layer3, 3 => layer4,
        _ => throw new ArgumentOutOfRangeException(nameof(stage), "a ResNet has stages 0 to 3"),
    };

    private IResidualBlock LastBlock(int stage) => (IResidualBlock)Stage(stage).children().Last();

    /// <summary>
    /// <see cref="forward"/> that also fills <paramref name="maps"/>[s] with stage s's <see cref="StageMapLayers"/> output
    /// before its BatchNorm (N x C x H x W; fp32 under mixed precision; DELTA's feature maps) and, when given, <paramref name="lastBlockInputs"/>[s]
    /// with the input of that stage's last block (for <see cref="FeaturesFromStageMap"/>). The plain forward does not
    /// capture anything; the caller owns every returned tensor.
    /// </summary>
    public ClassifierOutput ForwardWithStageMaps(Tensor x, Tensor[] maps, Tensor[]? lastBlockInputs = null)
    {
        ArgumentNullException.ThrowIfNull(maps);
        if (maps.Length != 4 || lastBlockInputs is { Length: not 4 }) throw new ArgumentException("expected arrays of 4, one per stage");
        using var scope = NewDisposeScope();
        var y = maxpool.call(bn1.call(LowPrecisionConvolution.Call(conv1, x)).relu_());
        for (int s = 0; s < 4; s++)
        {
            var blocks = Stage(s).children().Cast<Module<Tensor, Tensor>>().ToArray();
            for (int b = 0; b < blocks.Length - 1; b++) y = blocks[b].call(y);
            var last = (IResidualBlock)blocks[^1];
            var map = last.InnerMap(y);
            maps[s] = map;
            if (lastBlockInputs is not null) lastBlockInputs[s] = y;
            y = last.FromInnerMap(y, map);
        }
        var pooled = y.mean(new long[] { 2, 3 });
        var output = ClassifierOutput.LeavingScope(fc.call(pooled), y, aux_fc?.call(pooled));
        for (int s = 0; s < 4; s++)
        {
            maps[s] = (maps[s].dtype is ScalarType.Float16 or ScalarType.BFloat16 ? maps[s].to(ScalarType.Float32) : maps[s]).MoveToOuterDisposeScope();
            if (lastBlockInputs is not null) lastBlockInputs[s] = lastBlockInputs[s].MoveToOuterDisposeScope();
        }
        return output;
    }

    /// <summary>The last feature map (as <see cref="ForwardFeatures"/>) computed from stage <paramref name="stage"/>'s last
    /// block's input and an inner map in place of the one that block would make: DELTA's channel ablation zeroes one
    /// channel of it, which is what zeroing that filter of the convolution does (it has no bias).</summary>
    public Tensor FeaturesFromStageMap(int stage, Tensor lastBlockInput, Tensor map)
    {
        using var scope = NewDisposeScope();
        var y = LastBlock(stage).FromInnerMap(lastBlockInput, map);
        for (int s = stage + 1; s < 4; s++) y = Stage(s).call(y);
        return y.MoveToOuterDisposeScope();
    }

    public override ClassifierOutput forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var features = ForwardFeatures(x);
        // torchvision's AdaptiveAvgPool2d((1, 1)) + flatten is the mean over H and W.
        var pooled = features.mean(new long[] { 2, 3 });
        var logits = fc.call(pooled);
        var aux = aux_fc?.call(pooled);
        var output = ClassifierOutput.LeavingScope(logits, features, aux);
        return output;
    }
}

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
    private readonly BatchNorm2d bn1;
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
        bn1 = BatchNorm2d(64);
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
        var y = maxpool.call(bn1.call(conv1.call(x)).relu_());
        y = layer4.call(layer3.call(layer2.call(layer1.call(y))));
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

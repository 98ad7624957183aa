using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Smile.Models;

/// <summary>
/// torchvision's DenseNet (densenet121), with its state-dict names (<c>features.conv0.weight</c>,
/// <c>features.denseblock1.denselayer1.norm1.weight</c>, <c>features.transition1.conv.weight</c>,
/// <c>classifier.bias</c>, ...) so torchvision weights load by name, plus Smile's optional <c>aux_fc</c>.
/// <see cref="ClassifierOutput.Features"/> is ReLU(features(x)): the map torchvision pools.
/// </summary>
public sealed class DenseNet : ImageClassifier
{
    private readonly Sequential features;
    private readonly Linear classifier;
    private readonly Linear? aux_fc;

    public DenseNetSpec Spec { get; }
    public override string Architecture => Spec.Name;
    public override string HeadName => "classifier";
    public override int NumClasses { get; }
    public override int? AuxClasses { get; }
    public override int FeatureChannels { get; }

    public DenseNet(DenseNetSpec spec, int numClasses, int? auxClasses = null) : base(spec.Name)
    {
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses), "a classifier needs at least one class");
        if (auxClasses is < 1) throw new ArgumentOutOfRangeException(nameof(auxClasses), "an aux head needs at least one class");
        Spec = spec;
        NumClasses = numClasses;
        AuxClasses = auxClasses;

        var modules = new List<(string, Module<Tensor, Tensor>)>
        {
            ("conv0", Conv2d(3, spec.InitFeatures, kernel_size: 7, stride: 2, padding: 3, bias: false)),
            ("norm0", HeldBatchNorm.For2d(spec.InitFeatures)),
            ("relu0", ReLU()),
            ("pool0", MaxPool2d(kernel_size: 3, stride: 2, padding: 1)),
        };
        long channels = spec.InitFeatures;
        for (int b = 0; b < spec.Blocks.Length; b++)
        {
            modules.Add(($"denseblock{b + 1}", new DenseBlock(spec.Blocks[b], channels, spec.GrowthRate, spec.BottleneckSize)));
            channels += spec.Blocks[b] * spec.GrowthRate;
            if (b != spec.Blocks.Length - 1)
            {
                modules.Add(($"transition{b + 1}", new Transition(channels, channels / 2)));
                channels /= 2;
            }
        }
        modules.Add(("norm5", HeldBatchNorm.For2d(channels)));
        features = Sequential(modules);
        FeatureChannels = (int)channels;
        classifier = Linear(channels, numClasses);
        aux_fc = auxClasses is int s ? Linear(channels, s) : null;
        RegisterComponents();
        Initialise();
    }

    protected override bool HeadBiasStartsAtZero => true;

    // torchvision: Kaiming normal (fan_in) convolutions, BatchNorm 1 and 0, Linear biases 0.
    private void Initialise()
    {
        using var noGrad = no_grad();
        foreach (var module in modules())
        {
            switch (module)
            {
                case Conv2d conv: init.kaiming_normal_(conv.weight); break;
                case BatchNorm bn: init.ones_(bn.weight); init.zeros_(bn.bias); break;
                case Linear linear when linear.bias is not null: init.zeros_(linear.bias); break;
            }
        }
    }

    public override ClassifierOutput forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var map = x;
        foreach (var layer in features.children()) // the stem's conv0 through LowPrecisionConvolution, as every conv
            map = layer is Conv2d conv ? LowPrecisionConvolution.Call(conv, map) : ((Module<Tensor, Tensor>)layer).call(map);
        map = map.relu();
        var pooled = map.mean([2, 3]); // adaptive_avg_pool2d((1, 1)) + flatten
        var logits = classifier.call(pooled);
        var aux = aux_fc?.call(pooled);
        return ClassifierOutput.LeavingScope(logits, map, aux);
    }
}

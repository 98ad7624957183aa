using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Smile.Models;

/// <summary>
/// The 5-layer CNN student of the ILS paper's distillation experiment (docs/METHODS.md, "Distillation"): three blocks
/// conv3x3 (pad 1) -> BN -> maxpool 2 -> ReLU with 32, 64, 128 channels, then FC(128*4*4 -> 128) -> BN1d ->
/// ReLU -> dropout 0.5 -> FC(128 -> K). Made for 32x32 inputs; the 4x4 adaptive average pool before the
/// first FC is the identity there and lets other sizes run. Features: the last block's map (N x 128 x h x w);
/// the aux head reads the same 128-d hidden vector as <c>fc</c>.
/// </summary>
public sealed class ShallowCnn : ImageClassifier
{
    public const string Name = "shallow_cnn";

    private readonly Conv2d conv1, conv2, conv3;
    private readonly HeldBatchNorm bn1, bn2, bn3;
    private readonly Linear fc1;
    private readonly HeldBatchNorm bn4;
    private readonly Dropout dropout;
    private readonly Linear fc;
    private readonly Linear? aux_fc;

    public override string Architecture => Name;
    public override string HeadName => "fc";
    public override int NumClasses { get; }
    public override int? AuxClasses { get; }
    public override int FeatureChannels => 128;

    public ShallowCnn(int numClasses, int? auxClasses = null) : base(Name)
    {
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses), "a classifier needs at least one class");
        if (auxClasses is < 1) throw new ArgumentOutOfRangeException(nameof(auxClasses), "an aux head needs at least one class");
        NumClasses = numClasses;
        AuxClasses = auxClasses;
        conv1 = Conv2d(3, 32, kernel_size: 3, padding: 1);
        bn1 = HeldBatchNorm.For2d(32);
        conv2 = Conv2d(32, 64, kernel_size: 3, padding: 1);
        bn2 = HeldBatchNorm.For2d(64);
        conv3 = Conv2d(64, 128, kernel_size: 3, padding: 1);
        bn3 = HeldBatchNorm.For2d(128);
        fc1 = Linear(128 * 4 * 4, 128);
        bn4 = HeldBatchNorm.For1d(128);
        dropout = Dropout(0.5);
        fc = Linear(128, numClasses);
        aux_fc = auxClasses is int s ? Linear(128, s) : null;
        RegisterComponents();
    }

    public override ClassifierOutput forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = functional.max_pool2d(bn1.call(LowPrecisionConvolution.Call(conv1, x)), 2).relu();
        y = functional.max_pool2d(bn2.call(LowPrecisionConvolution.Call(conv2, y)), 2).relu();
        var map = functional.max_pool2d(bn3.call(LowPrecisionConvolution.Call(conv3, y)), 2).relu();
        var hidden = dropout.call(bn4.call(fc1.call(functional.adaptive_avg_pool2d(map, [4, 4]).flatten(1))).relu());
        var logits = fc.call(hidden);
        var aux = aux_fc?.call(hidden);
        return ClassifierOutput.LeavingScope(logits, map, aux);
    }
}

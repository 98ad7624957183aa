using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// Label smoothing (Szegedy et al. 2016): CE against (1 - eps) one-hot + eps / K on clean images, plus
/// cls_lambda * L_cls as every method here. The uniform mass on wrong classes calibrates but erases the
/// similarity between classes, which <see cref="InstanceLabelSmoothingRegularizer"/> keeps.
/// </summary>
public sealed class LabelSmoothingRegularizer : IRegularizer
{
    public string Name => "ls";
    public string Summary => "Label smoothing: CE against (1 - eps) one-hot + eps / K.";
    public IReadOnlyList<MethodSetting> Settings => [SmoothedTargets.Smoothing];
    private double smoothing = SmoothedTargets.Smoothing.Default;

    public void Configure(MethodValues values) => smoothing = values.Get(SmoothedTargets.Smoothing);

    public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var (images, labels) = (batch.Images, batch.Labels);
        ArgumentNullException.ThrowIfNull(ctx);
        using var scope = NewDisposeScope();
        var logits = ctx.Student.call(images).Logits;
        var target = SmoothedTargets.Uniform(labels, logits.shape[1], smoothing, logits.dtype);
        return LossTerms.SoftTargetLoss(ctx, logits, target, labels);
    }
}

using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// Plain fine-tuning, the paper's "L2" baseline: CE on clean images plus cls_lambda * L_cls, and weight decay
/// on every parameter. SMILE's last 1000 iterations train with this loss too.
/// </summary>
public sealed class L2Regularizer : IRegularizer
{
    public string Name => "l2";
    public string Summary => "Plain fine-tuning (the paper's L2 baseline): CE plus the classifier L2.";
    public bool Capturable => true;

    public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var (images, labels) = (batch.Images, batch.Labels);
        ArgumentNullException.ThrowIfNull(ctx);
        using var scope = NewDisposeScope();
        var terms = LossTerms.Plain(ctx, images, labels, out var accuracy);
        L2SpTerm.AddIfEnabled(ctx, terms);
        return LossTerms.Finish(terms, accuracy);
    }
}

using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// Mixup (Zhang et al. 2018) alone: SMILE's label term on mixed images plus cls_lambda * L_cls, without the
/// teacher. The ablation that separates what the mixing buys from what the distillation buys.
/// </summary>
public sealed class MixupRegularizer : IRegularizer
{
    public string Name => "mixup";
    public string Summary => "Mixup alone: SMILE's label term on mixed images, without the teacher.";
    public bool UsesMixup => true;
    public bool Capturable => true;
    public IReadOnlyList<MethodSetting> Settings => [MixPlan.Alpha];
    private double alpha = MixPlan.Alpha.Default;

    public void Configure(MethodValues values) => alpha = values.Get(MixPlan.Alpha);

    public MixPlan? DrawMix(Random random, int batchSize) => MixPlan.Draw(random, alpha, batchSize);

    public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var (images, labels) = (batch.Images, batch.Labels);
        ArgumentNullException.ThrowIfNull(ctx);
        if (mix is null) throw new ArgumentNullException(nameof(mix), "the mixup regularizer mixes its batch: pass a MixPlan");
        using var scope = NewDisposeScope();
        var weights = mix.On(images);
        var output = ctx.Student.call(LossTerms.Mix(images, weights));
        var terms = new List<(string, Tensor)>
        {
            ("main", LossTerms.MixedCrossEntropy(ctx, output.Logits, labels, weights)),
            ("cls", LossTerms.ClassifierL2(ctx).Times(ctx.Options.ClsLambda)),
        };
        L2SpTerm.AddIfEnabled(ctx, terms);
        return LossTerms.Finish(terms, LossTerms.MixedAccuracy(output.Logits, labels, weights));
    }
}

using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// L2-SP (Li, Grandvalet, Davoine 2018): plain fine-tuning with the backbone pulled towards its pre-trained
/// values instead of towards zero. So weight decay is off on the backbone (it would pull towards zero and
/// fight the anchor) and stays on the new heads, which have no pre-trained value.
/// The strength is <see cref="RegularizerOptions.L2spLambda"/> as given (the CLI defaults it to 0.01 here).
/// </summary>
public sealed class L2SpRegularizer : IRegularizer
{
    public string Name => "l2sp";
    public bool NeedsTeacher => false;
    public bool UsesMixup => false;

    public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var (images, labels) = (batch.Images, batch.Labels);
        ArgumentNullException.ThrowIfNull(ctx);
        using var scope = NewDisposeScope();
        var terms = LossTerms.Plain(ctx, images, labels, out var accuracy);
        // Always present here, even at strength 0, so a log of an l2sp run always shows the term.
        terms.Add(("l2sp", L2SpTerm.Compute(ctx)));
        return LossTerms.Finish(terms, accuracy);
    }

    public bool WeightDecayApplies(string parameterName) => ParameterGroups.IsHead(parameterName);

    public void AfterStep(TrainingContext ctx, long iteration) { }
}

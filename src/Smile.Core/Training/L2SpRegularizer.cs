using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// L2-SP (Li, Grandvalet, Davoine 2018): plain fine-tuning with the backbone pulled towards its pre-trained
/// values instead of towards zero. So weight decay is off on the backbone (it would pull towards zero and
/// fight the anchor) and stays on the new heads, which have no pre-trained value.
/// The strength is <see cref="LossOptions.L2spLambda"/>, 0.01 when the run does not set it.
/// </summary>
public sealed class L2SpRegularizer : IRegularizer
{
    public string Name => "l2sp";
    public string Summary => "L2-SP: the backbone pulled towards its pre-trained values (strength l2sp_lambda, 0.01 here).";
    public double DefaultL2spLambda => 0.01;
    public bool Capturable => true;

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
}

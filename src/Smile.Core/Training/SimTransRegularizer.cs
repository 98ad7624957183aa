using Smile.WeakShot;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// SimTrans's main-classifier loss on noisy web images (docs/METHODS.md, "The main classifier": stages 3a and 3b): the weighted CE
/// (1/B) Σ w_i CE(z_i, y_i) with the SimNet's sample weights (all 1 without a weights file), plus, when α > 0,
/// α · the graph regularisation of the classifier's pooled features by the SimNet's rectified similarities of
/// the same augmented batch, plus cls_lambda · L_cls and L2-SP when enabled, as every method here. With
/// <see cref="RegularizerOptions.GraphRegAlternate"/> even epochs train with the weighted CE only and odd epochs
/// add the graph term, the authors' alternation (they also change the batch size between the two; Smile keeps
/// one batch size).
/// </summary>
public sealed class SimTransRegularizer : IRegularizer
{
    public string Name => "simtrans";
    public bool NeedsTeacher => false;
    public bool UsesMixup => false;
    public bool UsesSampleWeights => true;
    public bool UsesSimilarityNetwork => true;

    /// <summary>Whether the graph term is on for a batch of <paramref name="epoch"/>.</summary>
    public static bool GraphActive(RegularizerOptions options, int epoch) =>
        options.GraphReg > 0 && (!options.GraphRegAlternate || epoch % 2 == 1);

    public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(batch);
        var (images, labels) = (batch.Images, batch.Labels);
        using var scope = NewDisposeScope();
        var output = ctx.Student.call(images);
        var main = batch.Weights is { } weights
            ? WeightedCrossEntropy.Loss(output.Logits, labels, weights)
            : nn.functional.cross_entropy(output.Logits, labels);
        var terms = new List<(string, Tensor)>
        {
            ("main", main),
            ("cls", LossTerms.ClassifierL2(ctx) * ctx.Options.ClsLambda),
        };
        if (GraphActive(ctx.Options, batch.Epoch))
        {
            var simnet = ctx.SimilarityNetwork
                ?? throw new InvalidOperationException("--graph_reg needs the SimNet (--simnet CHECKPOINT)");
            var similarity = simnet.BatchSimilarity(images);
            terms.Add(("graph", GraphRegularization.Loss(SimNet.PooledFeatures(output), similarity, ctx.Options.GraphMu) * ctx.Options.GraphReg));
        }
        L2SpTerm.AddIfEnabled(ctx, terms);
        return LossTerms.Finish(terms, LossTerms.Accuracy(output.Logits, labels));
    }

    public bool WeightDecayApplies(string parameterName) => true;

    public void AfterStep(TrainingContext ctx, long iteration) { }
}

using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Smile.WeakShot;

/// <summary>
/// SimTrans's adversarial option (docs/METHODS.md, "Adversarial option"): fc1 (D' -> D') -> LayerNorm -> ReLU -> fc2 (D' -> 2) on
/// relation features, telling base pairs (label 0) from novel web pairs (label 1). LayerNorm, not BatchNorm: a
/// batch holds both domains, and batch statistics would leak the domain split into every row.
/// </summary>
public sealed class PairDiscriminator : Module<Tensor, Tensor>
{
    /// <summary>Checkpoint prefix of its tensors in a SimNet _Last file.</summary>
    public const string Prefix = "discriminator.";

    private readonly Linear fc1, fc2;
    private readonly LayerNorm norm;

    public PairDiscriminator(int relationDim) : base("discriminator")
    {
        if (relationDim < 1) throw new ArgumentOutOfRangeException(nameof(relationDim), relationDim, "the relation feature needs at least one channel");
        fc1 = Linear(relationDim, relationDim);
        norm = LayerNorm(relationDim);
        fc2 = Linear(relationDim, 2);
        RegisterComponents();
    }

    /// <summary>Relation features (N x D') to domain logits (N x 2).</summary>
    public override Tensor forward(Tensor relation)
    {
        using var scope = NewDisposeScope();
        return fc2.call(norm.call(fc1.call(relation)).relu()).MoveToOuterDisposeScope();
    }

    /// <summary>L_D: cross-entropy of the domain logits of <paramref name="baseRows"/> base-pair rows followed by
    /// web-pair rows, averaged over all rows (as one CE over the concatenation, the authors' form).</summary>
    public static Tensor DomainLoss(Tensor domainLogits, long baseRows)
    {
        using var scope = NewDisposeScope();
        var labels = cat([zeros(baseRows, ScalarType.Int64), ones(domainLogits.shape[0] - baseRows, ScalarType.Int64)]).to(domainLogits.device);
        return functional.cross_entropy(domainLogits, labels).MoveToOuterDisposeScope();
    }
}

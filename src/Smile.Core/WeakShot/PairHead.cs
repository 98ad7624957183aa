using Smile.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Smile.WeakShot;

/// <summary>What <see cref="PairHead"/> returns for a batch of B images: <see cref="Logits"/> (B² x 2) and the
/// relation features (B² x D'), row a*B + b for the ordered pair (a, b). The caller owns both.</summary>
public sealed record PairHeadOutput(Tensor Logits, Tensor Relation);

/// <summary>
/// SimTrans's SimNet head (docs/METHODS.md, "SimNet"): all B² ordered pairs [f_a ; f_b] of the pooled
/// features, self-pairs included, then fc1 (2D -> 2D) -> bn1 -> ReLU -> fc2 (2D -> D') -> bn2 -> ReLU = relation
/// feature r_ab, then fc3 (D' -> D') -> bn3 -> ReLU -> fc4 (D' -> 2) = pair logits; S_ab = softmax(logits)[1].
/// The parameter names are those of the PyTorch twin in tests/Smile.Core.Tests/python/simtrans_reference.py, so
/// a state dict moves between the two. The paper's sizes (D = D' = 2048) are the defaults.
/// </summary>
public sealed class PairHead : Module<Tensor, PairHeadOutput>
{
    private readonly Linear fc1, fc2, fc3, fc4;
    private readonly HeldBatchNorm bn1, bn2, bn3;

    public int FeatureDim { get; }
    public int RelationDim { get; }

    public PairHead(int featureDim = 2048, int relationDim = 2048) : base("pair_head")
    {
        if (featureDim < 1) throw new ArgumentOutOfRangeException(nameof(featureDim), featureDim, "the pooled feature needs at least one channel");
        if (relationDim < 1) throw new ArgumentOutOfRangeException(nameof(relationDim), relationDim, "the relation feature needs at least one channel");
        FeatureDim = featureDim;
        RelationDim = relationDim;
        fc1 = Linear(2 * featureDim, 2 * featureDim);
        bn1 = HeldBatchNorm.For1d(2 * featureDim);
        fc2 = Linear(2 * featureDim, relationDim);
        bn2 = HeldBatchNorm.For1d(relationDim);
        fc3 = Linear(relationDim, relationDim);
        bn3 = HeldBatchNorm.For1d(relationDim);
        fc4 = Linear(relationDim, 2);
        RegisterComponents();
    }

    /// <summary>Pooled features f (B x D) to pair logits and relation features.</summary>
    public override PairHeadOutput forward(Tensor features) => ForwardPairs(Pairs(features));

    /// <summary>The head on pairs already built (rows [f_a ; f_b], 2D wide), e.g. by <see cref="CrossPairs"/>:
    /// in eval mode BatchNorm uses its running statistics, so a large matrix can be scored in row chunks.</summary>
    public PairHeadOutput ForwardPairs(Tensor pairs)
    {
        if (pairs.dim() != 2 || pairs.shape[1] != 2 * FeatureDim)
            throw new ArgumentException($"pairs must be N x {2 * FeatureDim}, got [{string.Join(", ", pairs.shape)}]", nameof(pairs));
        using var scope = NewDisposeScope();
        var relation = bn2.call(fc2.call(bn1.call(fc1.call(pairs)).relu())).relu();
        var logits = fc4.call(bn3.call(fc3.call(relation)).relu());
        return new PairHeadOutput(logits.MoveToOuterDisposeScope(), relation.MoveToOuterDisposeScope());
    }

    /// <summary>The B² x 2D matrix of ordered pairs: row a*B + b is [f_a ; f_b]. Order matters (the head is
    /// not symmetric in its two halves), which is why S is not symmetric.</summary>
    public static Tensor Pairs(Tensor features) => CrossPairs(features, features);

    /// <summary>The m·n x 2D matrix of the ordered pairs (a, b), a from <paramref name="first"/> (m x D), b from
    /// <paramref name="second"/> (n x D): row a*n + b is [first_a ; second_b].</summary>
    public static Tensor CrossPairs(Tensor first, Tensor second)
    {
        if (first.dim() != 2 || second.dim() != 2 || first.shape[1] != second.shape[1])
            throw new ArgumentException($"pooled features must be m x D and n x D, got [{string.Join(", ", first.shape)}] and [{string.Join(", ", second.shape)}]");
        long m = first.shape[0], n = second.shape[0], d = first.shape[1];
        using var scope = NewDisposeScope();
        var left = first.unsqueeze(1).expand(m, n, d);   // [a, b] holds first_a
        var right = second.unsqueeze(0).expand(m, n, d); // [a, b] holds second_b
        return cat([left, right], 2).reshape(m * n, 2 * d).MoveToOuterDisposeScope();
    }

    /// <summary>S (B x B): S_ab = softmax(logits of pair (a, b))[1], the probability that a and b share a class.</summary>
    public static Tensor Similarity(Tensor pairLogits, long batchSize)
    {
        using var scope = NewDisposeScope();
        return pairLogits.softmax(1).select(1, 1).reshape(batchSize, batchSize).MoveToOuterDisposeScope();
    }

    /// <summary>The pair labels (B², int64): 1 iff the two images of the pair share a class, row a*B + b.</summary>
    public static Tensor PairLabels(Tensor labels)
    {
        using var scope = NewDisposeScope();
        return labels.unsqueeze(1).eq(labels.unsqueeze(0)).flatten().to(ScalarType.Int64).MoveToOuterDisposeScope();
    }

    /// <summary>The SimNet loss: 2-way cross-entropy averaged over all B² ordered pairs, self-pairs included.</summary>
    public static Tensor PairLoss(Tensor pairLogits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        return functional.cross_entropy(pairLogits, PairLabels(labels)).MoveToOuterDisposeScope();
    }
}

using static TorchSharp.torch;

namespace Smile.WeakShot;

/// <summary>
/// SimTrans's graph regularisation (docs/METHODS.md, "Graph regularisation"): the SimNet similarities A
/// (B x B, no gradient) of a batch, rectified A'_ij = (exp(μ A_ij) - 1) / (exp(μ) - 1), pull the classifier's
/// own pooled features together: L_reg = (1/B²) Σ_ij A'_ij ||f_i - f_j||².
/// </summary>
public static class GraphRegularization
{
    /// <summary>The authors' μ. Negative μ keeps 0 and 1 fixed and boosts the values in between.</summary>
    public const double DefaultMu = -4.0;

    public static Tensor Rectify(Tensor similarity, double mu = DefaultMu)
    {
        if (mu == 0 || !double.IsFinite(mu)) throw new ArgumentOutOfRangeException(nameof(mu), mu, "μ must be finite and not 0 (the rectification divides by exp(μ) - 1)");
        using var scope = NewDisposeScope();
        return similarity.detach().Times(mu).exp().Minus(1.0).DividedBy(Math.Exp(mu) - 1.0).MoveToOuterDisposeScope();
    }

    /// <summary>L_reg for pooled features f (B x D) and similarities A (B x B, detached here).</summary>
    public static Tensor Loss(Tensor features, Tensor similarity, double mu = DefaultMu)
    {
        long b = features.shape[0];
        if (features.dim() != 2 || similarity.dim() != 2 || similarity.shape[0] != b || similarity.shape[1] != b)
            throw new ArgumentException($"expected features B x D and similarities B x B, got [{string.Join(", ", features.shape)}] and [{string.Join(", ", similarity.shape)}]");
        using var scope = NewDisposeScope();
        var w = Rectify(similarity, mu).to(features.dtype);
        // Σ_ij w_ij ||f_i - f_j||² = Σ_i ||f_i||² (Σ_j w_ij + Σ_j w_ji) - 2 Σ_ij w_ij f_i·f_j: O(B² + BD) memory
        // instead of the B x B x D differences (128 x 128 x 2048 floats, twice with the gradient, at the authors' batch).
        // Named dims: a bare literal 0 would also convert to ScalarType and pick the whole-tensor sum overload.
        var squaredNorms = features.Squared().sum(dim: 1);
        var degree = w.sum(dim: 1).Plus(w.sum(dim: 0));
        var cross = (w * features.matmul(features.t())).sum();
        return ((squaredNorms * degree).sum() - cross.Times(2.0)).DividedBy(b * b).MoveToOuterDisposeScope();
    }
}

using static TorchSharp.torch;

namespace Smile.WeakShot;

/// <summary>
/// SimTrans's weighted classification loss (docs/METHODS.md, "Sample weights", last paragraph):
/// (1/B) Σ_i w_i CE(z_i, y_i). Divided by the batch size B, not by Σ w: with weights of mean 1 per class the
/// two agree on average, and dividing by B keeps a batch of outliers from being scaled back up.
/// </summary>
public static class WeightedCrossEntropy
{
    /// <summary>Logits B x K, labels B (int64), weights B (no gradient flows into them).</summary>
    public static Tensor Loss(Tensor logits, Tensor labels, Tensor weights)
    {
        if (logits.dim() != 2 || labels.shape.Length != 1 || weights.shape.Length != 1
            || labels.shape[0] != logits.shape[0] || weights.shape[0] != logits.shape[0])
            throw new ArgumentException($"expected logits B x K, labels B and weights B, got [{string.Join(", ", logits.shape)}], [{string.Join(", ", labels.shape)}], [{string.Join(", ", weights.shape)}]");
        using var scope = NewDisposeScope();
        var perImage = nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.None);
        return (perImage * weights.detach().to(perImage.dtype)).sum().DividedBy(logits.shape[0]).MoveToOuterDisposeScope();
    }
}

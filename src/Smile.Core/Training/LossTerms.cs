using Smile.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>The loss pieces the regularizers share, each written once, with the reference's mean reductions.</summary>
public static class LossTerms
{
    /// <summary>lam * x + (1 - lam) * x[p] along the batch dimension, in x's memory layout.</summary>
    public static Tensor Mix(Tensor x, MixWeights mix) =>
        (x * mix.Keep).Plus(RowsInLayout(x, mix.Permutation) * mix.Rest);

    /// <summary>x[p] with x's NHWC memory order kept for a channels-last image batch: index_select writes a contiguous
    /// (NCHW) result whatever its input, and an elementwise op that meets both layouts is slow (docs/PERFORMANCE.md,
    /// "Channels-last gradients"). Picked from the NHWC view, the rows come back channels-last; other tensors as they are.</summary>
    internal static Tensor RowsInLayout(Tensor x, Tensor permutation)
    {
        if (x.dim() != 4 || x.is_contiguous()) return x.index_select(0, permutation);
        using var nhwc = x.permute(0, 2, 3, 1);
        if (!nhwc.is_contiguous()) return x.index_select(0, permutation);
        using var picked = nhwc.index_select(0, permutation);
        return picked.permute(0, 3, 1, 2);
    }

    /// <summary>Mixup's label loss: lam * CE(logits, y) + (1 - lam) * CE(logits, y[p]), each CE a batch mean.
    /// Equal to CE against the mixed one-hot target, without building it.</summary>
    public static Tensor MixedCrossEntropy(Tensor logits, Tensor labels, MixWeights mix) =>
        (nn.functional.cross_entropy(logits, labels) * mix.Keep)
        .Plus(nn.functional.cross_entropy(logits, labels.index_select(0, mix.Permutation)) * mix.Rest);

    /// <summary>
    /// The label cross-entropy of a batch: every method's CE against the target classes goes through here (or through
    /// the mixed and soft forms below, which call the same weighting), so that class weights
    /// (<see cref="LossOptions.ClassWeights"/>, c) apply the same way everywhere. Without weights: the batch mean of
    /// CE(z_i, y_i), exactly the reference's. With class weights: PyTorch's cross_entropy(weight=c) with its mean,
    /// Σ c_{y_i} CE_i / Σ c_{y_i} (divided by the sum of the weights, not by the batch size). With per-image weights s
    /// (SimTrans's): Σ s_i CE_i / B, and with both Σ s_i c_{y_i} CE_i / Σ c_{y_i}.
    /// </summary>
    public static Tensor CrossEntropy(TrainingContext ctx, Tensor logits, Tensor labels, Tensor? sampleWeights = null)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        if (ctx.Options.ClassWeights is null && sampleWeights is null) return nn.functional.cross_entropy(logits, labels);
        return Weighted(ctx, logits, nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.None), labels, sampleWeights);
    }

    /// <summary>Mixup's label loss with class weights: lam * CE_c(z, y) + (1 - lam) * CE_c(z, y[p]), each the weighted
    /// mean of <see cref="CrossEntropy"/>. Both means divide by the same sum (y[p] is y reordered), so this is one
    /// weighted mean in which each image's two labels carry their class weights mixed by lam, as the loss mixes them.
    /// Without class weights it is <see cref="MixedCrossEntropy(Tensor, Tensor, MixWeights)"/>.</summary>
    public static Tensor MixedCrossEntropy(TrainingContext ctx, Tensor logits, Tensor labels, MixWeights mix)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        if (ctx.Options.ClassWeights is null) return MixedCrossEntropy(logits, labels, mix);
        return (CrossEntropy(ctx, logits, labels) * mix.Keep).Plus(CrossEntropy(ctx, logits, labels.index_select(0, mix.Permutation)) * mix.Rest);
    }

    /// <summary>The label-smoothing family's CE against soft targets built from <paramref name="labels"/>: with class
    /// weights each image's soft CE weighs as its label's class, Σ c_{y_i} H(q_i, z_i) / Σ c_{y_i}; without,
    /// <see cref="SoftCrossEntropy(Tensor, Tensor)"/>.</summary>
    public static Tensor SoftCrossEntropy(TrainingContext ctx, Tensor logits, Tensor target, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        if (ctx.Options.ClassWeights is null) return SoftCrossEntropy(logits, target);
        return Weighted(ctx, logits, (target * logits.log_softmax(1)).sum(1).neg(), labels, null);
    }

    private static Tensor Weighted(TrainingContext ctx, Tensor logits, Tensor perImage, Tensor labels, Tensor? sampleWeights)
    {
        long batch = perImage.shape[0];
        if (sampleWeights is not null && (sampleWeights.dim() != 1 || sampleWeights.shape[0] != batch))
            throw new ArgumentException($"expected one sample weight per image ({batch}), got shape [{string.Join(", ", sampleWeights.shape)}]");
        var weighted = sampleWeights is null ? perImage : perImage * sampleWeights.detach().to(perImage.dtype);
        if (ctx.Options.ClassWeights is not { } classWeights) return weighted.sum().DividedBy(batch);
        if (classWeights.Count != logits.shape[1])
            throw new ArgumentException($"{classWeights.Count} class weights for {logits.shape[1]} classes");
        var perLabel = tensor(classWeights.ToArray(), dtype: perImage.dtype, device: perImage.device).index_select(0, labels);
        return (weighted * perLabel).sum() / perLabel.sum();
    }

    /// <summary>Cross-entropy against a soft target: mean over the batch of -sum_k target_k log_softmax(logits)_k.</summary>
    public static Tensor SoftCrossEntropy(Tensor logits, Tensor target) =>
        (target * logits.log_softmax(1)).sum(1).mean().neg();

    /// <summary>SMILE's classifier L2: 0.5 * the sum of squared entries of fc and aux_fc (weights and biases).
    /// Unweighted; the caller multiplies by cls_lambda.</summary>
    public static Tensor ClassifierL2(TrainingContext ctx)
    {
        Tensor sum = zeros(Array.Empty<long>(), device: ParameterDevice(ctx.Student));
        foreach (var parameter in ctx.HeadParameters)
            sum = sum.Plus(parameter.Squared().sum());
        return sum.Times(0.5);
    }

    /// <summary>
    /// The plain fine-tuning loss on clean images (the l2 baseline, SMILE's last 1000 iterations, and L2-SP's
    /// label part): "main" = CE(logits, y) and "cls" = cls_lambda * L_cls.
    /// </summary>
    public static List<(string Name, Tensor Value)> Plain(TrainingContext ctx, Tensor images, Tensor labels, out Tensor accuracy)
    {
        var output = ctx.Student.call(images);
        accuracy = Accuracy(output.Logits, labels);
        var terms = new List<(string, Tensor)>
        {
            ("main", CrossEntropy(ctx, output.Logits, labels)),
            ("cls", ClassifierL2(ctx).Times(ctx.Options.ClsLambda)),
        };
        return terms;
    }

    /// <summary>The label-smoothing family's loss (ls, ils): "main" = soft CE against <paramref name="target"/>,
    /// "cls" = cls_lambda * L_cls, and L2-SP when enabled. Call inside the regularizer's dispose scope.</summary>
    public static StepLosses SoftTargetLoss(TrainingContext ctx, Tensor logits, Tensor target, Tensor labels)
    {
        var terms = new List<(string, Tensor)>
        {
            ("main", SoftCrossEntropy(ctx, logits, target, labels)),
            ("cls", ClassifierL2(ctx).Times(ctx.Options.ClsLambda)),
        };
        L2SpTerm.AddIfEnabled(ctx, terms);
        return Finish(terms, Accuracy(logits, labels));
    }

    /// <summary>Top-1 accuracy of logits against labels, without a graph.</summary>
    public static Tensor Accuracy(Tensor logits, Tensor labels)
    {
        using var noGrad = no_grad();
        return logits.argmax(1).eq(labels).to(ScalarType.Float32).mean();
    }

    /// <summary>Mixup's accuracy: lam * acc(y) + (1 - lam) * acc(y[p]).</summary>
    public static Tensor MixedAccuracy(Tensor logits, Tensor labels, MixWeights mix) =>
        (Accuracy(logits, labels) * mix.Keep).Plus(Accuracy(logits, labels.index_select(0, mix.Permutation)) * mix.Rest);

    /// <summary>Sums the terms into the total and moves exactly the returned tensors out of the
    /// regularizer's dispose scope; everything else made in that scope dies with it.</summary>
    public static StepLosses Finish(List<(string Name, Tensor Value)> terms, Tensor accuracy)
    {
        Tensor total = terms[0].Value;
        for (int i = 1; i < terms.Count; i++) total = total.Plus(terms[i].Value);
        if (terms.Count == 1) total = total.alias();
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, value) in terms)
        {
            if (value.dim() != 0) throw new InvalidOperationException($"loss term '{name}' is not a scalar (shape [{string.Join(", ", value.shape)}])");
            result.Add(name, value.MoveToOuterDisposeScope());
        }
        return new StepLosses(total.MoveToOuterDisposeScope(), result) { Accuracy = accuracy.detach().MoveToOuterDisposeScope() };
    }

    public static Device ParameterDevice(ImageClassifier model) => model.parameters().First().device;
}

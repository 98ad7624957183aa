using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// Batch Spectral Shrinkage (Chen et al. 2019, "Catastrophic Forgetting Meets Negative Transfer"): the l2
/// baseline's loss plus bss_eta * the sum of the bss_k smallest squared singular values of the batch's pooled
/// features F (N x C, the head's input: the last feature map averaged over H and W, as the models pool it).
/// The singular values come from torch.linalg.svdvals, whose gradient, U diag(dσ) Vᵀ, needs no singular
/// vectors' derivative and so stays finite when singular values repeat (duplicated images, a batch smaller
/// than C with rank below N); the gradient of σ² = 2σ u vᵀ vanishes at σ = 0. A batch with fewer than bss_k
/// singular values (min(N, C)) has all of them summed.
/// </summary>
public sealed class BssRegularizer : IRegularizer
{
    private static readonly MethodSetting<long> KSetting = new("bss_k",
        "BSS: how many of the smallest singular values of the batch's pooled features to shrink (1, the paper's).", 1L,
        k => k >= 1 ? null : "must be 1 or more") { OnlyForItsMethods = true };

    private static readonly MethodSetting<double> EtaSetting = new("bss_eta",
        "BSS: weight of the sum of the smallest squared singular values (0.001, the paper's).", 0.001,
        MethodSetting<double>.NonNegative) { OnlyForItsMethods = true };

    public string Name => "bss";
    public string Summary => "Batch Spectral Shrinkage: the l2 loss plus bss_eta * the bss_k smallest squared singular values of the pooled features.";
    public IReadOnlyList<MethodSetting> Settings => [KSetting, EtaSetting];

    public long K { get; private set; } = KSetting.Default;
    public double Eta { get; private set; } = EtaSetting.Default;

    public void Configure(MethodValues values)
    {
        ArgumentNullException.ThrowIfNull(values);
        K = values.Get(KSetting);
        Eta = values.Get(EtaSetting);
    }

    public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(batch);
        using var scope = NewDisposeScope();
        var output = ctx.Student.call(batch.Images);
        var terms = new List<(string, Tensor)>
        {
            ("main", LossTerms.CrossEntropy(ctx, output.Logits, batch.Labels)),
            ("cls", LossTerms.ClassifierL2(ctx).Times(ctx.Options.ClsLambda)),
            ("bss", SmallestSquaredSingularValues(output.Features.mean([2L, 3L]), K).Times(Eta)),
        };
        L2SpTerm.AddIfEnabled(ctx, terms);
        return LossTerms.Finish(terms, LossTerms.Accuracy(output.Logits, batch.Labels));
    }

    /// <summary>Σ of the <paramref name="k"/> smallest σᵢ² of <paramref name="features"/> (N x C), in fp32
    /// (svdvals has no half-precision kernels); all of them when there are fewer than k.</summary>
    public static Tensor SmallestSquaredSingularValues(Tensor features, long k)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.dim() != 2) throw new ArgumentException($"expected N x C features, got shape [{string.Join(", ", features.shape)}]");
        var sigma = linalg.svdvals(features.to(ScalarType.Float32)); // descending
        long count = sigma.shape[0], take = Math.Min(k, count);
        return sigma.narrow(0, count - take, take).Squared().sum();
    }
}

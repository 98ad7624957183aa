using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// L2-SP (Li, Grandvalet, Davoine 2018): lambda / 2 * sum over backbone parameters of ||w - w0||^2, w0 the
/// pre-trained value. It pulls the backbone towards the source model instead of towards zero. Shared by every
/// regularizer (SMILE + L2-SP is "label CE + feature-mixup distillation + L2-SP"); only the l2sp regularizer
/// also switches weight decay off on the backbone.
/// </summary>
public static class L2SpTerm
{
    /// <summary>The weighted term (0-dim) with strength <see cref="LossOptions.L2spLambda"/>; it is 0 at the start of training.</summary>
    public static Tensor Compute(TrainingContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        using var scope = NewDisposeScope();
        Tensor sum = zeros(Array.Empty<long>(), device: LossTerms.ParameterDevice(ctx.Student));
        foreach (var (current, pretrained) in ctx.BackbonePairs)
            sum = sum.Plus((current - pretrained).Squared().sum());
        return sum.Times(ctx.Options.L2spLambda / 2.0).MoveToOuterDisposeScope();
    }

    /// <summary>Appends ("l2sp", term) when L2spLambda &gt; 0; the combination every regularizer offers.</summary>
    public static void AddIfEnabled(TrainingContext ctx, List<(string Name, Tensor Value)> terms)
    {
        if (ctx.Options.L2spLambda > 0) terms.Add(("l2sp", Compute(ctx)));
    }
}

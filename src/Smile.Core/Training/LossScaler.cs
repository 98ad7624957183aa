using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// fp16's dynamic loss scaling, as PyTorch's GradScaler: the loss is multiplied by <see cref="Scale"/> before
/// backward so that small gradients survive fp16; the gradients are divided by it before the update. When any
/// gradient is inf or NaN the update is skipped and the scale halved; after <see cref="GrowthInterval"/> good steps
/// in a row it doubles. Start 2^16, factors 2 and 0.5, interval 2000: GradScaler's defaults.
/// </summary>
public sealed class LossScaler(double initialScale = 65536, int growthInterval = 2000)
{
    public double Scale { get; private set; } = initialScale > 0 && double.IsFinite(initialScale)
        ? initialScale : throw new ArgumentOutOfRangeException(nameof(initialScale));

    public int GrowthInterval { get; } = growthInterval >= 1 ? growthInterval : throw new ArgumentOutOfRangeException(nameof(growthInterval));

    /// <summary>Good steps since the last change of the scale.</summary>
    public int GoodSteps { get; private set; }

    /// <summary>Restores a saved state (from a _Last checkpoint's run state).</summary>
    public void Restore(double scale, int goodSteps)
    {
        if (!(scale > 0 && double.IsFinite(scale)) || goodSteps < 0) throw new FormatException($"loss scale {scale}, {goodSteps} good steps");
        Scale = scale;
        GoodSteps = goodSteps;
    }

    /// <summary>Divides every gradient of <paramref name="parameters"/> by the scale when all are finite, and moves
    /// the scale on. Returns whether the optimizer may step (false: skip it; the gradients are left as they are).</summary>
    public bool Unscale(IEnumerable<Parameter> parameters)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var grads = parameters.Select(p => p.grad).Where(g => g is not null).Select(g => g!).ToList();
        bool finite = grads.Count == 0 || stack(grads.Select(g => g.isfinite().all()).ToArray()).all().item<bool>();
        if (finite)
        {
            using Scalar inverse = 1.0 / Scale;
            foreach (var g in grads) g.mul_(inverse);
            if (++GoodSteps >= GrowthInterval)
            {
                Scale *= 2;
                GoodSteps = 0;
            }
        }
        else
        {
            Scale *= 0.5;
            GoodSteps = 0;
        }
        return finite;
    }
}

using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>What one step measured: the total loss, its weighted terms, and the training accuracy of the step's own logits.</summary>
public sealed record StepResult(double Loss, IReadOnlyDictionary<string, double> Terms, double Accuracy)
{
    /// <summary>fp16 only: the gradients overflowed at the loss scale, so the update was skipped and the scale lowered.</summary>
    public bool UpdateSkipped { get; init; }

    public bool Finite => double.IsFinite(Loss);

    /// <summary>"main 1.2345, cls 0.0001": the terms for a log line or an error.</summary>
    public string DescribeTerms(string format = "F4") => string.Join(", ", Terms.Select(t => $"{t.Key} {t.Value.ToString(format, System.Globalization.CultureInfo.InvariantCulture)}"));
}

/// <summary>Where a step's time goes, for `smile bench profile`: each stage's end is marked (the step's own code
/// and the methods' losses call <see cref="Mark"/>), and the profiler reads a clock there.</summary>
public interface IStepTimer
{
    void Mark(StepStage stage);
}

/// <summary>The stages of a training step, in order, as <see cref="IStepTimer"/> hears of them. The first and the
/// last are the caller's (its batch tensors, the end of its iteration); the loss stages are SMILE's (the loss
/// marks them), the others <see cref="TrainingStep"/>'s.</summary>
public enum StepStage
{
    BatchToTensor, ZeroGrad, Mixup, StudentForward, TeacherForward, TeacherTargets, MainCe, AuxCe, FeatureReg, ClsL2, Accuracy, Sum,
    Items, Backward, Optimizer, Ema, Release,
}

/// <summary>
/// The one training step of every fine-tuning method, used by training, the benchmarks, the profiler and
/// `smile selftest` alike: clear the gradients, the method's loss (under autocast in mixed precision:
/// <see cref="MixedPrecision"/>), backward, the optimizer's update, the method's after-step (SMILE's mean teacher).
/// A loss that is not finite is returned without backward or update, so the weights stay those of the last good
/// step. In fp16 the loss is scaled for backward and an update whose gradients overflowed is skipped
/// (<see cref="LossScaler"/>). Every temporary belongs to the step's dispose scope.
/// </summary>
public static class TrainingStep
{
    public static StepResult Run(TrainingContext ctx, IRegularizer method, IOptimizer optimizer, StepBatch batch, MixPlan? mix, long iteration,
        IStepTimer? timer = null)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(optimizer);
        using var scope = NewDisposeScope();
        optimizer.ZeroGrad();
        method.BeforeStep(ctx, optimizer, iteration);
        timer?.Mark(StepStage.ZeroGrad);
        var previous = ctx.Timer;
        ctx.Timer = timer;
        try
        {
            StepLosses losses;
            using (ctx.Precision.Enter(ctx.Device))
                losses = method.Loss(ctx, batch, mix);
            timer?.Mark(StepStage.Sum);
            double loss = HostValue(losses.Total);
            var terms = losses.Terms.ToDictionary(t => t.Key, t => HostValue(t.Value));
            double accuracy = losses.Accuracy is { } a ? HostValue(a) : double.NaN;
            timer?.Mark(StepStage.Items);
            if (!double.IsFinite(loss)) return new StepResult(loss, terms, accuracy);
            var scaler = ctx.Precision.Scaler;
            (scaler is null ? losses.Total : losses.Total * scaler.Scale).backward();
            timer?.Mark(StepStage.Backward);
            if (scaler is not null && !scaler.Unscale(ctx.Student.parameters()))
                return new StepResult(loss, terms, accuracy) { UpdateSkipped = true };
            optimizer.Step();
            timer?.Mark(StepStage.Optimizer);
            method.AfterStep(ctx, iteration);
            timer?.Mark(StepStage.Ema);
            return new StepResult(loss, terms, accuracy);
        }
        finally
        {
            ctx.Timer = previous;
        }
    }

    /// <summary>A 0-dim tensor's value on the host. A tensor on the meta device (shapes, no data) reads as 0: the
    /// stray-tensor guard (tests/Smile.Core.Tests/Training/DeviceGuardTests.cs) runs whole steps there, where a
    /// tensor left on the CPU fails as it would on a GPU.</summary>
    private static double HostValue(Tensor t) => t.device_type == DeviceType.META ? 0 : t.item<float>();
}

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
            var losses = Losses(ctx, method, batch, mix);
            timer?.Mark(StepStage.Sum);
            var (loss, terms, accuracy) = Read(losses);
            timer?.Mark(StepStage.Items);
            if (!double.IsFinite(loss)) return new StepResult(loss, terms, accuracy);
            var scaler = ctx.Precision.Scaler;
            (scaler is null ? losses.Total : losses.Total.Times(scaler.Scale)).backward();
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

    /// <summary>The device half of a step, as a CUDA graph captures it (Training/StepGraphs.cs): clear the gradients,
    /// the method's before-step, its loss, backward and the optimizer's update, reading nothing on the host. So it does
    /// not check the loss before the update as <see cref="Run"/> does: after a non-finite loss the weights are those
    /// the update made of it, and the caller must stop the run without saving them, as the run engine does. No loss
    /// scaling: fp16's scaler reads its overflow flag on the host. The losses belong to the caller's dispose scope.</summary>
    internal static StepLosses Launch(TrainingContext ctx, IRegularizer method, IOptimizer optimizer, StepBatch batch, MixPlan? mix, long iteration)
    {
        if (ctx.Precision.Scaler is not null) throw new InvalidOperationException("a step with a loss scaler reads its overflow flag on the host: it cannot be launched without one");
        optimizer.ZeroGrad();
        method.BeforeStep(ctx, optimizer, iteration);
        var losses = Losses(ctx, method, batch, mix);
        losses.Total.backward();
        optimizer.Step();
        return losses;
    }

    /// <summary>The method's loss, under autocast in mixed precision.</summary>
    private static StepLosses Losses(TrainingContext ctx, IRegularizer method, StepBatch batch, MixPlan? mix)
    {
        using (ctx.Precision.Enter(ctx.Device))
            return method.Loss(ctx, batch, mix);
    }

    /// <summary>The loss, its terms and the accuracy on the host (a wait for the device).</summary>
    internal static (double Loss, Dictionary<string, double> Terms, double Accuracy) Read(StepLosses losses) =>
        (HostValue(losses.Total), losses.Terms.ToDictionary(t => t.Key, t => HostValue(t.Value)), losses.Accuracy is { } a ? HostValue(a) : double.NaN);

    /// <summary>A 0-dim tensor's value on the host. A tensor on the meta device (shapes, no data) reads as 0: the
    /// stray-tensor guard (tests/Smile.Core.Tests/Training/DeviceGuardTests.cs) runs whole steps there, where a
    /// tensor left on the CPU fails as it would on a GPU.</summary>
    private static double HostValue(Tensor t) => t.device_type == DeviceType.META ? 0 : t.item<float>();
}

using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// A <see cref="MixPlan"/> on the step's device: <see cref="Keep"/> = lam and <see cref="Rest"/> = 1 - lam as float32
/// 0-dim tensors and <see cref="Permutation"/> as an int64 index. The mixing losses read the coefficient from these
/// tensors, not from a host number, so that a step captured as a CUDA graph (Training/StepGraphs.cs) replays with the
/// values copied into them before each replay. Each coefficient is rounded from the double once, as a scalar argument
/// is, so <c>x * Keep</c> equals <c>x * lam</c> bit for bit on fp32 tensors.
/// </summary>
public sealed class MixWeights : IDisposable
{
    private readonly Tensor pair;

    /// <summary>lam, 0-dim float32.</summary>
    public Tensor Keep { get; }

    /// <summary>1 - lam, 0-dim float32 (computed in double from lam, as the host form did).</summary>
    public Tensor Rest { get; }

    /// <summary>The permutation of the batch, int64.</summary>
    public Tensor Permutation { get; }

    private MixWeights(Tensor pair, Tensor permutation)
    {
        this.pair = pair;
        Keep = pair[0];
        Rest = pair[1];
        Permutation = permutation;
    }

    /// <summary>The tensors of <paramref name="plan"/> on <paramref name="device"/>, in the caller's dispose scope.</summary>
    internal static MixWeights Of(MixPlan plan, Device device)
    {
        var pair = tensor(Coefficients(plan), device: device);
        return new MixWeights(pair, tensor(plan.Permutation, device: device));
    }

    /// <summary>Tensors for a batch of <paramref name="batchSize"/> on <paramref name="device"/> that outlive every
    /// dispose scope (the caller disposes them), to be filled by <see cref="Fill"/>.</summary>
    public static MixWeights Persistent(long batchSize, Device device)
    {
        using var scope = NewDisposeScope();
        var weights = new MixWeights(zeros(2, dtype: ScalarType.Float32, device: device), zeros(batchSize, dtype: ScalarType.Int64, device: device));
        weights.pair.DetachFromDisposeScope();
        weights.Keep.DetachFromDisposeScope();
        weights.Rest.DetachFromDisposeScope();
        weights.Permutation.DetachFromDisposeScope();
        return weights;
    }

    /// <summary>Copies <paramref name="plan"/> (validated against the batch size) into these tensors, in place. On
    /// CUDA through pinned memory without blocking the host, ordered before the next kernel on the current stream.</summary>
    public void Fill(MixPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        plan.Validate(Permutation.shape[0]);
        using var scope = NewDisposeScope();
        bool cuda = pair.device_type == DeviceType.CUDA;
        var coefficients = tensor(Coefficients(plan), device: CPU);
        var permutation = tensor(plan.Permutation, device: CPU);
        pair.copy_(cuda ? coefficients.pin_memory() : coefficients, cuda);
        Permutation.copy_(cuda ? permutation.pin_memory() : permutation, cuda);
    }

    private static float[] Coefficients(MixPlan plan) => [(float)plan.Lambda, (float)(1.0 - plan.Lambda)];

    public void Dispose()
    {
        Keep.Dispose();
        Rest.Dispose();
        Permutation.Dispose();
        pair.Dispose();
    }
}

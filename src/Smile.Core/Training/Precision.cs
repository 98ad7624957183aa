using Smile.Diagnostics;
using Smile.Models;
using Smile.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// The arithmetic of a training step: fp32 (the reference's), or bf16/fp16 mixed precision through LibTorch's
/// autocast (convolutions and matrix products in the low precision, weights, gradients and optimizer state in fp32).
/// The models' outputs leave the forward in fp32 (<see cref="Models.ClassifierOutput.LeavingScope"/>), so every
/// loss term (the teacher's softmax, SMILE's norms, the sums) is computed in fp32. fp16 adds a dynamic loss
/// scaler (<see cref="LossScaler"/>); bf16 has fp32's range and needs none.
/// </summary>
public sealed class MixedPrecision
{
    public static IReadOnlyList<string> Names { get; } = ["fp32", "bf16", "fp16"];

    public static readonly MixedPrecision Fp32 = new("fp32", null, null);

    public string Name { get; }

    /// <summary>The autocast type, or null for plain fp32.</summary>
    public ScalarType? AutocastType { get; }

    /// <summary>fp16's loss scaler (its state goes into _Last); null otherwise.</summary>
    public LossScaler? Scaler { get; }

    private MixedPrecision(string name, ScalarType? type, LossScaler? scaler)
    {
        Name = name;
        AutocastType = type;
        Scaler = scaler;
    }

    /// <summary>The precision by name. When LibTorch lacks the autocast functions, bf16 and fp16 become fp32 and
    /// <paramref name="fallback"/> says why (one warning line for the caller to show); otherwise it is null.</summary>
    public static MixedPrecision Create(string name, out string? fallback)
    {
        fallback = null;
        string key = name.Trim().ToLowerInvariant();
        if (key == "fp32") return Fp32;
        if (key is not ("bf16" or "fp16"))
            throw new ModelConfigException($"`precision` {name}: expected {string.Join(", ", Names)}");
        if (!Autocast.Available)
        {
            fallback = $"{key} needs LibTorch's autocast, which this LibTorch lacks ({Autocast.Unavailable}): running in fp32";
            return Fp32;
        }
        return key == "bf16" ? new MixedPrecision("bf16", ScalarType.BFloat16, null) : new MixedPrecision("fp16", ScalarType.Float16, new LossScaler());
    }

    /// <summary>One warning line when this precision will run far slower than fp32 on <paramref name="device"/>, else
    /// null: bf16 on a CPU that LibTorch's oneDNN does not take bf16 on (<see cref="CpuInfo.HasOneDnnBf16"/>), where a
    /// bf16 training step measured 15-18x slower than fp32 (docs/PERFORMANCE.md, "Mixed precision").
    /// <paramref name="cpu"/>: this machine's when null (tests pass others).</summary>
    public string? SpeedWarning(Device device, CpuInfo? cpu = null)
    {
        if (AutocastType != ScalarType.BFloat16 || device.type != DeviceType.CPU) return null;
        cpu ??= CpuInfo.Read();
        return cpu.HasOneDnnBf16 ? null
            : $"bf16 on this CPU ({cpu.Model}) will be much slower than fp32: it lacks AVX-512 (BW, VL, DQ), so LibTorch computes bf16 convolutions with its generic kernels instead of oneDNN's (measured 15-18x slower than fp32 on such a CPU; docs/PERFORMANCE.md)";
    }

    /// <summary>fp16 with a given scaler (tests plant an overflow with a huge initial scale).</summary>
    public static MixedPrecision Fp16(LossScaler scaler) =>
        Autocast.Available ? new("fp16", ScalarType.Float16, scaler) : throw new InvalidOperationException($"no autocast: {Autocast.Unavailable}");

    /// <summary>The forward's autocast region on <paramref name="device"/>, or null for fp32.</summary>
    public IDisposable? Enter(Device device) => AutocastType is { } type ? Autocast.Enter(device.type, type) : null;

    /// <summary>fp16's loss scale travels in a _Last's run state, so that a resumed run scales as a straight one:
    /// <paramref name="progress"/> with the scaler's state (unchanged without a scaler).</summary>
    public RunProgress WithScale(RunProgress progress) =>
        Scaler is { } s ? progress with { LossScale = s.Scale, LossScaleGoodSteps = s.GoodSteps } : progress;

    /// <summary>Restores the scaler's state from a _Last's run state, when both have one.</summary>
    public void RestoreScale(RunProgress progress)
    {
        if (Scaler is { } scaler && progress.LossScale is { } scale) scaler.Restore(scale, progress.LossScaleGoodSteps);
    }
}

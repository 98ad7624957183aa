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

    /// <summary>Whether this precision's convolutions on <paramref name="device"/> go through
    /// <see cref="LowPrecisionConvolution"/> (rounded fp32 kernels) instead of LibTorch's: on a CPU whose oneDNN has no
    /// kernels for it (<see cref="CpuInfo.HasOneDnnBf16"/>, <see cref="CpuInfo.HasOneDnnFp16"/>), unless
    /// SMILE_LOW_PRECISION_CONV=native asks for LibTorch's generic kernels (to measure them).
    /// <paramref name="cpu"/>: this machine's when null (tests pass others).</summary>
    public bool RoundsConvolutions(Device device, CpuInfo? cpu = null) =>
        AutocastType is not null && device.type == DeviceType.CPU && !NativeConvolutionsAsked && !OneDnnHasKernels(cpu);

    /// <summary>Whether the CPU's oneDNN has convolution kernels for this precision's autocast type
    /// (<see cref="CpuInfo.HasOneDnnBf16"/>, <see cref="CpuInfo.HasOneDnnFp16"/>); false for fp32, which has no autocast.
    /// <paramref name="cpu"/>: this machine's when null (tests pass others).</summary>
    public bool OneDnnHasKernels(CpuInfo? cpu = null)
    {
        if (AutocastType is not { } type) return false;
        cpu ??= CpuInfo.Machine;
        return type == ScalarType.BFloat16 ? cpu.HasOneDnnBf16 : cpu.HasOneDnnFp16;
    }

    private static bool NativeConvolutionsAsked =>
        string.Equals(Environment.GetEnvironmentVariable("SMILE_LOW_PRECISION_CONV"), "native", StringComparison.OrdinalIgnoreCase);

    /// <summary>One warning line when this precision brings no speed on <paramref name="device"/>, else null: bf16 or
    /// fp16 on a CPU without oneDNN kernels for it, where its convolutions run as rounded fp32 ones (about fp32's
    /// speed, bf16's results), or through LibTorch's generic kernels (15-31x slower than fp32) when asked for.
    /// <paramref name="cpu"/>: this machine's when null (tests pass others).</summary>
    public string? SpeedWarning(Device device, CpuInfo? cpu = null)
    {
        if (AutocastType is not { } type || device.type != DeviceType.CPU) return null;
        cpu ??= CpuInfo.Machine;
        if (OneDnnHasKernels(cpu)) return null;
        string lacks = type == ScalarType.BFloat16 ? "AVX-512 (BW, VL, DQ)" : "AVX-512 FP16";
        return RoundsConvolutions(device, cpu)
            ? $"{Name} on this CPU ({cpu.Model}) is no faster than fp32: it lacks {lacks}, so Smile computes {Name} convolutions as fp32 ones on {Name}-rounded values (the same results as {Name} kernels; docs/PERFORMANCE.md)"
            : $"{Name} on this CPU ({cpu.Model}) will be much slower than fp32: it lacks {lacks}, and SMILE_LOW_PRECISION_CONV=native asks for LibTorch's generic {Name} convolutions (measured 15-31x slower than fp32 on such a CPU; docs/PERFORMANCE.md)";
    }

    /// <summary>fp16 with a given scaler (tests plant an overflow with a huge initial scale).</summary>
    public static MixedPrecision Fp16(LossScaler scaler) =>
        Autocast.Available ? new("fp16", ScalarType.Float16, scaler) : throw new InvalidOperationException($"no autocast: {Autocast.Unavailable}");

    /// <summary>The forward's autocast region on <paramref name="device"/>, or null for fp32.</summary>
    public IDisposable? Enter(Device device)
    {
        if (AutocastType is not { } type) return null;
        var autocast = Autocast.Enter(device.type, type);
        return RoundsConvolutions(device) ? new Both(autocast, LowPrecisionConvolution.Enter(type)) : autocast;
    }

    private sealed class Both(IDisposable outer, IDisposable inner) : IDisposable
    {
        public void Dispose()
        {
            inner.Dispose();
            outer.Dispose();
        }
    }

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

using Smile.Diagnostics;
using Smile.Models;
using Smile.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// The CUDA speed switches of a run, each on by default on CUDA and each with a way off: cuDNN autotuning, TF32 for
/// fp32 matrix products and convolutions (<see cref="CudaSwitches"/>), channels-last batches, and the training step
/// replayed as a CUDA graph (<see cref="StepGraphs"/>). On the CPU the first two and the graphs change nothing, and
/// channels-last is on by default only where it was measured faster (<see cref="ForRun"/>), otherwise off (the
/// reference's NCHW); its 1x1 convolutions there run as matrix products where oneDNN cannot work with the CPU's cache
/// sizes (<see cref="PointwiseConv2d"/>), since oneDNN's crashed on CPUs that hide them.
/// </summary>
public sealed record CudaSpeed(bool CudnnBenchmark = true, bool Tf32 = true, string ChannelsLast = "auto", bool CudaGraphs = true)
{
    /// <summary>How a run on <paramref name="device"/> records its step for replay (<see cref="StepGraphs"/>), or null
    /// when it runs every step eagerly: CUDA's graphs when asked for, on CUDA, and LibTorch exports them
    /// (<see cref="CudaGraph"/>); the CPU stand-in (<see cref="RerunStepGraph"/>) on any device when the environment
    /// variable SMILE_STEP_GRAPHS is "rerun" (for tests). <paramref name="why"/> says why not when graphs were asked for
    /// on CUDA but are unavailable (one line for the caller to show); otherwise it is null.</summary>
    public Func<IStepGraph>? GraphBackend(Device device, out string? why)
    {
        why = null;
        if (!CudaGraphs) return null;
        if (string.Equals(Environment.GetEnvironmentVariable("SMILE_STEP_GRAPHS"), "rerun", StringComparison.OrdinalIgnoreCase))
            return () => new RerunStepGraph();
        if (device.type != DeviceType.CUDA) return null;
        if (CudaGraph.Available)
        {
            int index = Math.Max((int)device.index, 0);
            return () => new CudaStepGraph(index);
        }
        why = $"CUDA graphs are not available ({CudaGraph.Unavailable}): every step runs eagerly";
        return null;
    }

    public static IReadOnlyList<string> ChannelsLastModes { get; } = ["auto", "on", "off"];

    /// <summary>Whether "auto" puts batches channels-last on the CPU too (set by <see cref="ForRun"/>).</summary>
    public bool CpuChannelsLast { get; init; }

    /// <summary>
    /// These switches for a run of <paramref name="model"/> in <paramref name="precision"/>: "auto" then also means
    /// channels-last on the CPU for a ResNet under bf16 or fp16 autocast whose convolutions run as oneDNN's own kernels
    /// of that type, where oneDNN can work with the cache sizes. Those kernels compute in NHWC, so an NCHW batch costs a
    /// reorder at every convolution; Smile's folded forward also fuses its ReLUs there (<see cref="FoldedResNet"/>).
    /// Measured on ResNet-50 in bf16: the SMILE step 1.36x and evaluation 1.68x the NCHW ones (docs/PERFORMANCE.md,
    /// "Channels-last by default for bf16 ResNets on the CPU"). fp32 and other models keep the reference's NCHW.
    /// <paramref name="cpu"/>: this machine's when null (tests pass others).
    /// </summary>
    public CudaSpeed ForRun(nn.Module model, MixedPrecision precision, CpuInfo? cpu = null) =>
        this with { CpuChannelsLast = model is ResNet && CpuPrefersChannelsLast(precision, cpu) };

    /// <summary>Whether a ResNet in <paramref name="precision"/> runs channels-last on this CPU by default (<see cref="ForRun"/>).</summary>
    public static bool CpuPrefersChannelsLast(MixedPrecision precision, CpuInfo? cpu = null) =>
        precision.OneDnnHasKernels(cpu) && PointwiseConv2d.OneDnnSeesCaches;

    private bool IsAuto => ChannelsLast.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether batches go channels-last on <paramref name="device"/>: auto means on CUDA, and on the CPU where
    /// <see cref="ForRun"/> chose it.</summary>
    public bool ChannelsLastOn(Device device) => ChannelsLast.Trim().ToLowerInvariant() switch
    {
        "auto" => device.type == DeviceType.CUDA || (device.type == DeviceType.CPU && CpuChannelsLast),
        "on" => true,
        "off" => false,
        _ => throw new ModelConfigException($"`channels_last` {ChannelsLast}: expected {string.Join(", ", ChannelsLastModes)}"),
    };

    /// <summary>Sets LibTorch's process-wide switches for a run on <paramref name="device"/> (on the CPU: leaves them);
    /// returns the run log's line about them. <paramref name="warning"/> says why they were left as they were when a
    /// symbol is missing (one line for the caller to show); otherwise it is null.</summary>
    public string Apply(Device device, out string? warning)
    {
        bool channelsLast = ChannelsLastOn(device);
        warning = null;
        if (device.type != DeviceType.CUDA)
            return $"CUDA speed switches: cuDNN autotuning, TF32 and CUDA graphs do not apply on the {device.type}; channels-last {(channelsLast ? "on" : "off")}"
                + (channelsLast && device.type == DeviceType.CPU && IsAuto ? " (auto: a ResNet under bf16/fp16 autocast on oneDNN's kernels for it)" : "")
                + (GraphBackend(device, out _) is null ? "" : "; steps replayed by the CPU stand-in for graphs (SMILE_STEP_GRAPHS=rerun)");
        if (!CudaSwitches.Available)
            warning = $"cuDNN autotuning and TF32 left as LibTorch set them: {CudaSwitches.Unavailable}";
        else
        {
            CudaSwitches.CudnnBenchmark = CudnnBenchmark;
            CudaSwitches.Tf32Matmul = Tf32;
            CudaSwitches.Tf32Convolution = Tf32;
        }
        return $"CUDA speed switches: cuDNN autotuning {(CudnnBenchmark ? "on" : "off")}, TF32 {(Tf32 ? "on" : "off")}, channels-last {(channelsLast ? "on" : "off")}, CUDA graphs {(GraphBackend(device, out _) is null ? "off" : "on")}";
    }

    /// <summary>The same values with NHWC strides (channels-last), shape unchanged: convolutions then run in the
    /// NHWC layout, which the GPU's tensor cores prefer. A new tensor (the caller owns it).</summary>
    public static Tensor ToChannelsLast(Tensor images)
    {
        if (images.dim() != 4) return images.alias();
        using var nhwc = images.permute(0, 2, 3, 1);
        using var packed = nhwc.contiguous();
        return packed.permute(0, 3, 1, 2);
    }

    /// <summary>Gives the model's 4-D weights NHWC strides in place (<c>Tensor.set_</c>: the same Parameter objects), as
    /// PyTorch's <c>model.to(memory_format=torch.channels_last)</c> does, for runs whose batches are channels-last: each
    /// convolution then meets its weight in its input's layout instead of re-laying it out on every call, and the
    /// weight's gradient needs no copy back into NCHW strides (docs/PERFORMANCE.md, "The optimizer a chunk at a time,
    /// and channels-last weights"). Build the optimizer afterwards: its flat buffers keep each parameter's layout
    /// (Training/FlatLayout.cs).</summary>
    public static void WeightsToChannelsLast(nn.Module model)
    {
        using var noGrad = no_grad();
        foreach (var p in model.parameters())
        {
            if (p.dim() != 4 || IsChannelsLast(p)) continue;
            using var packed = ToChannelsLast(p);
            p.set_(packed);
        }
    }

    /// <summary>Whether a tensor has NHWC strides and not NCHW ones (a 1x1 kernel's strides are both: false).</summary>
    public static bool IsChannelsLast(Tensor t)
    {
        if (t.dim() != 4 || t.is_contiguous()) return false;
        long[] size = t.shape, stride = t.stride();
        return stride[1] == 1 && stride[3] == size[1] && stride[2] == size[1] * size[3] && stride[0] == size[1] * size[2] * size[3];
    }
}

using System.CommandLine;
using Smile.Training;

namespace Smile.Cli;

/// <summary>--precision of the verbs that only run a network forward (test, predict, calibrate, simtrans weights), and of selftest:
/// checked as finetune's is (<see cref="Flags.Precision"/>); a LibTorch without autocast gives one warning line and fp32,
/// and bf16 on a CPU without oneDNN's bf16 kernels one warning line (<see cref="MixedPrecision.SpeedWarning"/>).</summary>
internal static class EvalPrecision
{
    public static Option<string> Flag() => Flags.Make("precision",
        "fp32 (default), bf16 or fp16: the forward under LibTorch's autocast, on CPU and CUDA; outputs, softmax and figures in fp32.", "fp32");

    public static MixedPrecision Read(string? value, TorchSharp.torch.Device device)
    {
        var precision = MixedPrecision.Create(Flags.Precision(value), out var fallback);
        if (fallback is not null) Console.Error.WriteLine($"warning: {fallback}");
        if (precision.SpeedWarning(device) is { } slow) Console.Error.WriteLine($"warning: {slow}");
        return precision;
    }
}

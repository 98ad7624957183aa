using Smile.Training;
using static TorchSharp.torch;

namespace Smile.Bench.Commands;

/// <summary>The device of a parity command (`bench parity`, `bench step-parity`), set up for exact fp32: PyTorch's side
/// runs with TF32 off (scripts/gpu_check.py), so Smile's does too, and without cuDNN autotuning or channels-last.</summary>
internal static class ParityDevice
{
    public static Device Parse(string name)
    {
        var target = DeviceSelection.Parse(name);
        new CudaSpeed(CudnnBenchmark: false, Tf32: false, ChannelsLast: "off").Apply(target, out var warning);
        if (warning is not null) Console.Error.WriteLine($"warning: {warning}");
        return target;
    }
}

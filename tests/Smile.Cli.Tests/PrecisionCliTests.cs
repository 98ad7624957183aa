using Smile.Training;
using Smile.Weights;

namespace Smile.Tests.Cli;

/// <summary>`smile finetune --precision bf16|fp16` end to end on the CPU (LibTorch's CPU autocast), as child processes.</summary>
public sealed class PrecisionCliTests(TinyTransferFixture data) : IClassFixture<TinyTransferFixture>
{
    private string[] Finetune(string save, string precision, params string[] extra) =>
    [
        "finetune", "--name", "p", "--train_dir", data.Train, "--eval_dir", data.Test, "--model_arch", "resnet18",
        "--pretrained", data.Source, "--image_size", "32", "--batch_size", "6", "--batch_size_eval", "4", "--max_iters", "4",
        "--eval_frequency", "2", "--print_frequency", "1", "--save", save, "--log_dir", Path.Combine(save, "tb"),
        "--seed", "3", "--workers", "1", "--precision", precision, .. extra,
    ];

    [Theory]
    [InlineData("bf16")]
    [InlineData("fp16")]
    public void ASmileRunTrainsInMixedPrecisionAndSavesFp32Weights(string precision)
    {
        var save = Path.Combine(data.Root, $"precision-{precision}");
        var r = SmileProcess.Run(Finetune(save, precision));
        Assert.True(r.ExitCode == 0, $"{r.Describe()}: {r.Stderr}");
        string log = File.ReadAllText(Path.Combine(save, "p_smile.txt"));
        Assert.Contains($"precision {precision}", log);
        // on a CPU without oneDNN's kernels for the precision it says it is no faster; read /proc/cpuinfo here to know which
        var cpu = Smile.Diagnostics.CpuInfo.Read();
        bool noKernels = precision == "bf16" ? !cpu.HasOneDnnBf16 : !cpu.HasOneDnnFp16;
        Assert.Equal(noKernels, log.Contains("is no faster than fp32"));
        var last = Checkpoint.ReadInfo(Path.Combine(save, "p_smile_Last.safetensors"));
        Assert.Equal(precision, last.Arguments["precision"]);
        var progress = RunProgress.FromJson(last.RunState)!;
        Assert.Equal(4, progress.StepsDone);
        if (precision == "fp16") Assert.NotNull(progress.LossScale); // the scaler's state, for an exact resume
        else Assert.Null(progress.LossScale);
        var (_, tensors) = Checkpoint.Load(Path.Combine(save, "p_smile_Best.safetensors"));
        Assert.All(tensors.Values.Where(t => t.is_floating_point()), t => Assert.Equal(TorchSharp.torch.ScalarType.Float32, t.dtype));
        foreach (var t in tensors.Values) t.Dispose();
    }

    [Fact]
    public void AnUnknownPrecisionIsOneLineBeforeAnyWork()
    {
        var save = Path.Combine(data.Root, "precision-bad");
        var r = SmileProcess.Run(Finetune(save, "fp8"));
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: --precision: must be fp32, bf16, fp16, not 'fp8'", r.Stderr.Trim());
        Assert.False(Directory.Exists(save));
    }
}

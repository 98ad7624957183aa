namespace Smile.Tests.Cli;

/// <summary>The CUDA speed flags of `finetune` on a CPU machine: accepted, said in the run log, checked; `smile info` says what they do here.</summary>
public sealed class CudaSpeedCliTests(TinyTransferFixture data) : IClassFixture<TinyTransferFixture>
{
    private string[] Finetune(string save, params string[] extra) =>
    [
        "finetune", "--name", "s", "--train_dir", data.Train, "--eval_dir", data.Test, "--model_arch", "resnet18",
        "--pretrained", data.Source, "--image_size", "32", "--batch_size", "6", "--batch_size_eval", "4", "--max_iters", "2",
        "--eval_frequency", "2", "--print_frequency", "1", "--save", save, "--log_dir", Path.Combine(save, "tb"),
        "--seed", "3", "--workers", "1", "--regularizer", "l2", .. extra,
    ];

    [Fact]
    public void ChannelsLastOnTheCpuTrainsAndTheRunLogSaysWhatApplies()
    {
        var save = Path.Combine(data.Root, "speed-cl");
        var r = SmileProcess.Run(Finetune(save, "--channels_last", "on", "--no_cudnn_benchmark", "--no_tf32"));
        Assert.True(r.ExitCode == 0, $"{r.Describe()}: {r.Stderr}");
        Assert.Contains("CUDA speed switches: cuDNN autotuning, TF32 and CUDA graphs do not apply on the CPU; channels-last on", File.ReadAllText(Path.Combine(save, "s_l2.txt")));
    }

    [Fact]
    public void ByDefaultChannelsLastIsOffOnTheCpu()
    {
        var save = Path.Combine(data.Root, "speed-default");
        var r = SmileProcess.Run(Finetune(save, "--dry_run"));
        Assert.True(r.ExitCode == 0, $"{r.Describe()}: {r.Stderr}");
        Assert.False(Directory.Exists(Path.Combine(save, "tb")));
        var train = SmileProcess.Run(Finetune(save));
        Assert.True(train.ExitCode == 0, $"{train.Describe()}: {train.Stderr}");
        Assert.Contains("channels-last off", File.ReadAllText(Path.Combine(save, "s_l2.txt")));
    }

    /// <summary>Under bf16 autocast a ResNet's batches go channels-last by default where this CPU's oneDNN has bf16
    /// kernels (Training/CudaSpeed.cs, ForRun), and the run log says so; --channels_last off keeps NCHW.</summary>
    [Fact]
    public void UnderBf16AResNetRunsChannelsLastByDefaultWhereOneDnnHasBf16Kernels()
    {
        var save = Path.Combine(data.Root, "speed-bf16");
        var r = SmileProcess.Run(Finetune(save, "--precision", "bf16"));
        Assert.True(r.ExitCode == 0, $"{r.Describe()}: {r.Stderr}");
        string log = File.ReadAllText(Path.Combine(save, "s_l2.txt"));
        if (Smile.Diagnostics.CpuInfo.Read().HasOneDnnBf16)
            Assert.Contains("channels-last on (auto: a ResNet under bf16/fp16 autocast on oneDNN's kernels for it)", log);
        else
            Assert.Contains("channels-last off", log);
        var off = Path.Combine(data.Root, "speed-bf16-off");
        var nchw = SmileProcess.Run(Finetune(off, "--precision", "bf16", "--channels_last", "off"));
        Assert.True(nchw.ExitCode == 0, $"{nchw.Describe()}: {nchw.Stderr}");
        Assert.Contains("channels-last off", File.ReadAllText(Path.Combine(off, "s_l2.txt")));
    }

    [Fact]
    public void AnUnknownChannelsLastValueNamesTheFlag()
    {
        var save = Path.Combine(data.Root, "speed-bad");
        var r = SmileProcess.Run(Finetune(save, "--channels_last", "nhwc"));
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: --channels_last: must be auto, on, off, not 'nhwc'", r.Stderr.Trim());
        Assert.False(Directory.Exists(save));
    }

    [Fact]
    public void InfoSaysTheSwitchesAreNoOpsOnTheCpu()
    {
        var r = SmileProcess.Run("info");
        Assert.True(r.ExitCode == 0, $"{r.Describe()}: {r.Stderr}");
        var cpu = Smile.Diagnostics.CpuInfo.Read();
        Assert.Contains("CUDA switches  cuDNN autotuning and TF32: no-ops on the CPU; " + (cpu.HasOneDnnBf16
            ? "channels-last on the CPU by default for ResNets under bf16" : "channels-last off on the CPU unless --channels_last on"), r.Stdout);
        Assert.Contains("autocast       available", r.Stdout);
        // A CPU LibTorch has no CUDA libraries: graphs are unavailable, and info says which library it looked for.
        Assert.Contains("CUDA graphs    not available (libtorch_cuda could not be opened): steps run eagerly", r.Stdout);
        // how this CPU's bf16 convolutions run, read from /proc/cpuinfo here as well
        Assert.Contains(cpu.HasOneDnnBf16 ? "CPU bf16/fp16  bf16 oneDNN kernels" : "CPU bf16/fp16  bf16 as rounded fp32 convolutions", r.Stdout);
    }
}

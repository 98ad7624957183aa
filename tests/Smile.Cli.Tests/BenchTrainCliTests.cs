using System.Text.RegularExpressions;

namespace Smile.Tests.Cli;

/// <summary>`smile bench train` and `smile bench inference` on tiny cases: every row printed with figures, PyTorch's
/// side (bench/torch_step.py under /usr/bin/python3) included.</summary>
public class BenchTrainCliTests
{
    [Fact]
    public void TinyTrainBenchmarkPrintsBothSidesRatiosArithmeticAndMemory()
    {
        var r = SmileProcess.Run("bench", "train", "--model_arch", "resnet18", "--image_size", "32", "--batch_size", "4",
            "--steps", "1", "--rounds", "1", "--channels_last", "no", "--smile_channels_last", "no");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
        Assert.DoesNotContain("warning", r.Stderr); // the PyTorch side ran
        Assert.Contains("GOMP_SPINCOUNT=30000", r.Stdout);
        Assert.Contains("OpenMP's default wait policy", r.Stdout);
        Assert.Matches(new Regex(@"^Smile's oneDNN cache sizes: (as|left|hidden)", RegexOptions.Multiline), r.Stdout);
        // fp32: PyTorch's own kernel choice (its AVX-512 kernels were no faster there; TorchBaseline.AtenCapability).
        Assert.DoesNotContain("ATEN_CPU_CAPABILITY", r.Stdout);
        Assert.Matches(new Regex(@"^PyTorch [\d.a-z+]+'s ATen kernels: AVX2$", RegexOptions.Multiline), r.Stdout);
        foreach (var step in new[] { "l2", "smile", "eval" })
        {
            Assert.Matches(new Regex($@"^{step}\s+[\d.]+\s+[\d.]+\s+NaN\s+[\d.]+/[\d.]+/[\d.]+x\s+n/a", RegexOptions.Multiline), r.Stdout);
            Assert.Matches(new Regex($@"^  {step}\s+[\d.]+ GFLOP/image, Smile\s+[\d.]+ GFLOP/s = \s*[\d.]+% of the matmul peak, \s*[\d.]+% of the convolution's rate; PyTorch NCHW [\d.]+ GFLOP/s", RegexOptions.Multiline), r.Stdout);
        }
        Assert.Matches(@"peak RSS: Smile process \d+ MiB, PyTorch NCHW \d+ MiB", r.Stdout);
        Assert.DoesNotContain("-graph", r.Stdout); // no graphs on the CPU
        Assert.DoesNotContain("-cl ", r.Stdout);
    }

    /// <summary>PyTorch 1.13's AVX-512 kernels are opt-in; the bf16 baseline runs them on a CPU that has AVX-512
    /// (TorchBaseline.AtenCapability), and a kernel set the user chose (ATEN_CPU_CAPABILITY) is the one it runs. The
    /// header names the choice and the child reports the set it dispatched to.</summary>
    [Fact]
    public void TheAtenKernelSetIsChosenStatedAndReachesThePyTorchSide()
    {
        string[] args = ["bench", "train", "--model_arch", "resnet18", "--image_size", "32", "--batch_size", "2", "--steps", "1", "--rounds", "1",
            "--channels_last", "no", "--smile_channels_last", "no", "--arithmetic", "no", "--precision", "bf16"];
        bool avx512 = Smile.Diagnostics.CpuInfo.Read().HasOneDnnBf16; // AVX-512 BW, VL and DQ
        var r = SmileProcess.Run(args);
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
        Assert.Equal(avx512, r.Stdout.Contains("ATEN_CPU_CAPABILITY=avx512", StringComparison.Ordinal));
        Assert.Matches(new Regex($@"^PyTorch [\d.a-z+]+'s ATen kernels: {(avx512 ? "AVX512" : "AVX2")}$", RegexOptions.Multiline), r.Stdout);
        r = SmileProcess.RunWith(new Dictionary<string, string?> { ["ATEN_CPU_CAPABILITY"] = "default" }, args);
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
        Assert.Contains("ATEN_CPU_CAPABILITY=default", r.Stdout); // PyTorch 1.13 names its default set "NO AVX"
        Assert.Matches(new Regex(@"^PyTorch [\d.a-z+]+'s ATen kernels: NO AVX$", RegexOptions.Multiline), r.Stdout);
    }

    /// <summary>On the CPU Smile's own channels-last step (`finetune --channels_last on`) is timed too, in rows of its
    /// own beside the same PyTorch figures; a bad value of the switch is one line naming it.</summary>
    [Fact]
    public void SmileInChannelsLastGetsRowsOfItsOwn()
    {
        var r = SmileProcess.RunWith(new Dictionary<string, string?> { ["SMILE_PYTHON"] = "/nonexistent/python" },
            "bench", "train", "--model_arch", "resnet18", "--image_size", "32", "--batch_size", "2", "--steps", "1", "--rounds", "1",
            "--channels_last", "no", "--smile_channels_last", "yes", "--arithmetic", "no");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
        Assert.Contains("Smile NCHW and channels-last (the -cl rows)", r.Stdout);
        Assert.Matches(new Regex(@"^round 1: Smile l2 [\d.]+, smile [\d.]+, eval [\d.]+ images/s; Smile channels-last l2 [\d.]+, smile [\d.]+, eval [\d.]+", RegexOptions.Multiline), r.Stdout);
        foreach (var step in new[] { "l2-cl", "smile-cl", "eval-cl" })
            Assert.Matches(new Regex($@"^{step}\s+[\d.]+\s+NaN\s+NaN", RegexOptions.Multiline), r.Stdout);
        var bad = SmileProcess.Run("bench", "train", "--smile_channels_last", "sometimes");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("smile_channels_last", bad.Stderr);
        Assert.Single(bad.Stderr.Trim().Split('\n'));
    }

    /// <summary>Where the step is replayed from a graph (CUDA; here the CPU stand-in), Smile's two training steps are
    /// timed that way too, in rows of their own beside the same PyTorch figures.</summary>
    [Fact]
    public void ReplayedStepsGetRowsOfTheirOwn()
    {
        var r = SmileProcess.RunWith(new Dictionary<string, string?> { ["SMILE_STEP_GRAPHS"] = "rerun", ["SMILE_PYTHON"] = "/nonexistent/python" },
            "bench", "train", "--model_arch", "resnet18", "--image_size", "32", "--batch_size", "2", "--steps", "1", "--rounds", "1", "--channels_last", "no", "--smile_channels_last", "no", "--arithmetic", "no");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
        Assert.Contains("steps replayed by the CPU stand-in for graphs", r.Stdout);
        Assert.DoesNotContain("arithmetic:", r.Stdout);
        foreach (var step in new[] { "l2-graph", "smile-graph" })
            Assert.Matches(new Regex($@"^{step}\s+[\d.]+\s+NaN\s+NaN", RegexOptions.Multiline), r.Stdout);
        Assert.DoesNotContain("eval-graph", r.Stdout);
    }

    /// <summary>On a GPU machine the PyTorch with CUDA is not Debian's: SMILE_PYTHON names the interpreter of the
    /// benchmarks' PyTorch side (scripts/gpu-check.sh sets it). A wrapper records that it was the one started.</summary>
    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void ThePyTorchSideRunsOnTheInterpreterNamedBySmilePython()
    {
        var dir = Directory.CreateTempSubdirectory("smile-python-").FullName;
        try
        {
            string marker = Path.Combine(dir, "started"), wrapper = Path.Combine(dir, "python");
            File.WriteAllText(wrapper, $"#!/bin/sh\necho \"$@\" >> \"{marker}\"\nexec /usr/bin/python3 \"$@\"\n");
            File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            string[] args = ["bench", "train", "--model_arch", "resnet18", "--image_size", "32", "--batch_size", "2", "--steps", "1", "--rounds", "1", "--channels_last", "no", "--smile_channels_last", "no", "--arithmetic", "no"];
            var r = SmileProcess.RunWith(new Dictionary<string, string?> { ["SMILE_PYTHON"] = wrapper }, args);
            Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
            Assert.Contains("torch_step.py resnet18 32 2 1", File.ReadAllText(marker));
            Assert.Matches(new Regex(@"^smile\s+[\d.]+\s+[\d.]+\s+NaN", RegexOptions.Multiline), r.Stdout); // PyTorch's figure is there
            // Named but missing: no PyTorch side (so the variable is what decides).
            r = SmileProcess.RunWith(new Dictionary<string, string?> { ["SMILE_PYTHON"] = Path.Combine(dir, "missing") }, args);
            Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
            Assert.Matches(new Regex(@"^smile\s+[\d.]+\s+NaN\s+NaN", RegexOptions.Multiline), r.Stdout);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ThePyTorchStepTakesTheProbeSwitchesOfScriptsDev()
    {
        // scripts/dev/torch_baseline_variants.sh: only the SMILE step, with set_to_none and foreach reaching the optimizer.
        var parts = TorchStep(new() { ["SMILE_BENCH_PART"] = "smile", ["SMILE_BENCH_SET_TO_NONE"] = "1", ["SMILE_BENCH_FOREACH"] = "1" });
        Assert.True(parts.GetProperty("smile").GetDouble() > 0);
        Assert.True(parts.GetProperty("smile_median_step").GetDouble() > 0);
        Assert.Equal(10, parts.GetProperty("smile_step_s").GetArrayLength());
        Assert.True(parts.GetProperty("foreach").GetBoolean());
        Assert.True(parts.GetProperty("set_to_none").GetBoolean());
        Assert.False(parts.TryGetProperty("l2", out _));
        Assert.False(parts.TryGetProperty("eval", out _));
        // As the benchmark runs it: every step, PyTorch 1.13's defaults.
        var plain = TorchStep([]);
        Assert.True(plain.GetProperty("l2").GetDouble() > 0 && plain.GetProperty("eval").GetDouble() > 0);
        Assert.False(plain.GetProperty("foreach").GetBoolean());
        Assert.False(plain.GetProperty("set_to_none").GetBoolean());
        // scripts/dev/bf16_step.sh: one step and one eval forward, no warm-up step, under bf16 autocast.
        var one = TorchStep(new() { ["SMILE_BENCH_ONE_STEP"] = "1", ["SMILE_BENCH_WARM_UP"] = "0", ["SMILE_BENCH_PRECISION"] = "bf16" });
        Assert.True(one.GetProperty("smile_step_s").GetDouble() > 0 && one.GetProperty("eval_s").GetDouble() > 0);
        Assert.False(one.GetProperty("warm_up").GetBoolean());
        Assert.Equal(0, one.GetProperty("rounded_convs").GetInt32());
        // The same with Smile's rounded convolutions written in PyTorch: every convolution of the step goes that way.
        var rounded = TorchStep(new() { ["SMILE_BENCH_ONE_STEP"] = "1", ["SMILE_BENCH_WARM_UP"] = "0", ["SMILE_BENCH_PRECISION"] = "bf16", ["SMILE_BENCH_ROUNDED_CONV"] = "1" });
        Assert.True(rounded.GetProperty("rounded_convs").GetInt32() >= 3 * 20, "a teacher, a student and an eval forward of ResNet-18 (20 convolutions each)");
        Assert.Equal(0, plain.GetProperty("rounded_convs").GetInt32()); // fp32: nothing to round
    }

    private static System.Text.Json.JsonElement TorchStep(Dictionary<string, string> env)
    {
        var r = ExperimentScriptsTests.Bash("/usr/bin/python3 src/Smile.Bench/bench/torch_step.py resnet18 32 4 1 2 nchw", env);
        Assert.True(r.Exit == 0, r.Stderr);
        return System.Text.Json.JsonDocument.Parse(r.Stdout).RootElement.Clone();
    }

    [Fact]
    public void InferenceBenchmarkTimesTheModuleAndTheFoldedForward()
    {
        var r = SmileProcess.Run("bench", "inference", "--model_arch", "resnet18", "--image_size", "32", "--batch_size", "2", "--rounds", "2");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
        Assert.Equal(2, Regex.Matches(r.Stdout, @"^  round: module [\d.]+, folded [\d.]+", RegexOptions.Multiline).Count);
        Assert.Matches(new Regex(@"^module \(BatchNorm as its own pass\)\s+[\d.]+\s+[\d.]+\s+1\.00x", RegexOptions.Multiline), r.Stdout);
        Assert.Matches(new Regex(@"^BatchNorm folded\s+[\d.]+\s+[\d.]+\s+[\d.]+x", RegexOptions.Multiline), r.Stdout);
    }

    [Fact]
    public void InferenceBenchmarkRefusesANetworkItCannotFold()
    {
        var r = SmileProcess.Run("bench", "inference", "--model_arch", "densenet121", "--image_size", "32", "--rounds", "1");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("ResNets only", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
    }
}

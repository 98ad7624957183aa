namespace Smile.Tests.Cli;

/// <summary>The `smile` executable as a user meets it: in a child process, reading its output and exit code.</summary>
public class CliTests
{
    [Fact]
    public void InfoReportsVersionsThreadsNativeLibrariesAndSafeguards()
    {
        var r = SmileProcess.Run("info");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
        Assert.Matches(@"TorchSharp\s+0\.107\.0", r.Stdout);
        Assert.Matches(@"LibTorch\s+2\.10", r.Stdout);
        Assert.Matches(@"oneDNN\s+.*v3\.", r.Stdout);
        // Either answer, whichever the machine (and the LibTorch build) has; never a GPU-dependent test.
        Assert.Matches(@"(?m)^CUDA\s+(not available|available, [1-9]\d* device\(s\), cuDNN (not )?available)\r?$", r.Stdout);
        Assert.Matches(@"threads\s+\d+ intra-op", r.Stdout);
        Assert.Matches(@"native\s+/\S*libtorch_cpu\.so", r.Stdout);
        Assert.Contains("safeguard      strided 1x1 convolutions on CPU computed as slice + stride-1 convolution: on", r.Stdout);
        // The channels-last line follows the caches lines: oneDNN computes those convolutions where it sees cache sizes
        // (the CPU shows them, or OneDnnCacheSizes gave it its defaults), matrix products do everywhere else.
        bool hidden = r.Stdout.Contains("CPU caches     hidden by the (virtual) machine", StringComparison.Ordinal);
        bool mended = r.Stdout.Contains("oneDNN caches  hidden by the (virtual) machine; oneDNN read them as", StringComparison.Ordinal);
        Assert.Contains(!hidden || mended
            ? "safeguard      channels-last 1x1 convolutions on CPU computed by oneDNN (it has cache sizes to work with; under bf16/fp16 autocast maps under 14x14 as matrix products)\n"
            : "safeguard      channels-last 1x1 convolutions on CPU computed as matrix products: on (needed here: oneDNN cannot see this CPU's cache sizes)\n",
            r.Stdout.ReplaceLineEndings("\n"));
        Assert.Contains(!hidden || mended
            ? "oneDNN fusion  ReLUs and residual sums inside oneDNN's convolutions in channels-last CPU eval and teacher forwards (fp32, bf16)\n"
            : "oneDNN fusion  off (oneDNN cannot see this CPU's cache sizes): separate ReLUs and residual sums\n",
            r.Stdout.ReplaceLineEndings("\n"));
        Assert.Matches(@"allocator\s+tuned", r.Stdout);
    }

    [Fact]
    public void InfoSaysWhenTheFusedConvolutionsAreTurnedOff()
    {
        var r = SmileProcess.RunWith(new Dictionary<string, string?> { ["SMILE_ONEDNN_FUSION"] = "off" }, "info");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
        Assert.Contains("oneDNN fusion  off (SMILE_ONEDNN_FUSION=off): separate ReLUs and residual sums\n", r.Stdout.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void OpenMpWorkersSpinBrieflyUnlessTheUserChoseAPolicy()
    {
        var mine = SmileProcess.RunWith(new Dictionary<string, string?> { ["OMP_WAIT_POLICY"] = null, ["GOMP_SPINCOUNT"] = null }, "info");
        Assert.True(mine.ExitCode == 0, mine.Describe() + mine.Stderr);
        Assert.Matches(@"OpenMP\s+OMP_WAIT_POLICY=PASSIVE, GOMP_SPINCOUNT=30000 ", mine.Stdout);
        var user = SmileProcess.RunWith(new Dictionary<string, string?> { ["OMP_WAIT_POLICY"] = "ACTIVE", ["GOMP_SPINCOUNT"] = null }, "info");
        Assert.True(user.ExitCode == 0, user.Describe() + user.Stderr);
        Assert.Matches(@"OpenMP\s+OMP_WAIT_POLICY=ACTIVE \(set by the user\)", user.Stdout);
    }

    [Fact]
    public void UnknownArchitectureIsOneLineAndExitCode2()
    {
        var r = SmileProcess.Run("selftest", "--model_arch", "resnet9");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: unknown model architecture 'resnet9'; known: resnet18, resnet34, resnet50, resnet101, resnet152, densenet121, shallow_cnn", r.Stderr.Trim());
        Assert.DoesNotContain("   at ", r.Stderr); // no stack trace
    }

    [Fact]
    public void ModelsListsEveryDepthWithItsParameterCount()
    {
        var r = SmileProcess.Run("models");
        Assert.Equal(0, r.ExitCode);
        // torchvision's parameter counts with a 1000-class fc.
        Assert.Matches(@"resnet18\s+11\.7M", r.Stdout);
        Assert.Matches(@"resnet50\s+25\.6M", r.Stdout);
        Assert.Matches(@"resnet152\s+60\.2M", r.Stdout);
    }
}

using System.Runtime.Intrinsics.X86;
using Smile.Diagnostics;
using Smile.Models;
using Smile.Native;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Diagnostics;

/// <summary>
/// <see cref="OneDnnCacheSizes"/>: on an AMD CPU whose (virtual) machine hides its cache sizes, a model build tells
/// oneDNN to use its default sizes, and a channels-last fp32 1x1 convolution that oneDNN computed wrongly with the
/// one-byte caches it read there (docs/PLATFORM-NOTES.md) comes out right. Elsewhere nothing is changed, and the
/// convolution is right anyway.
/// </summary>
public sealed class OneDnnCacheSizesTests
{
    [Fact]
    public void AModelBuildGivesOneDnnUsableCacheSizesAndItsConvolutionsComeOutRight()
    {
        using var model = ModelFactory.Create("shallow_cnn", 2);
        string state = OneDnnCacheSizes.State ?? "";
        bool amd = X86Base.IsSupported && X86Base.CpuId(0, 0) is (_, 0x68747541, 0x444D4163, 0x69746E65);
        if (OperatingSystem.IsLinux() && amd && CpuInfo.Machine.CachesHidden)
            Assert.StartsWith("hidden by the (virtual) machine; oneDNN read them as L1 1 B", state);
        else
            Assert.DoesNotContain("hidden by", state);

        // 512 -> 512 at 5x5, batch 2: off by about 2 at a scale of 5 with oneDNN's one-byte caches on such a CPU.
        using var scope = NewDisposeScope();
        torch.random.manual_seed(11);
        using Scalar scale = 1 / Math.Sqrt(512);
        var weight = randn(512, 512, 1, 1).mul_(scale);
        var x = randn(2, 512, 5, 5);
        var exact = nn.functional.conv2d(x.to(ScalarType.Float64), weight.to(ScalarType.Float64)).to(ScalarType.Float32);
        var channelsLast = nn.functional.conv2d(CudaSpeed.ToChannelsLast(x), weight);
        float gap = (channelsLast - exact).abs().max().item<float>();
        Assert.True(gap <= 1e-3f, $"oneDNN's channels-last 1x1 convolution is off by {gap} ({state})");
    }
}

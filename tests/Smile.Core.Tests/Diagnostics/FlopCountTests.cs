using Smile.Bench;

namespace Smile.Tests.Diagnostics;

public sealed class FlopCountTests
{
    // torchvision's published multiply-adds per 224x224 image (its model cards' "GFLOPS", counted as MACs
    // over convolutions and the classifier): 1.81, 3.66, 4.09, 7.80, 11.51 G.
    [Theory]
    [InlineData("resnet18", 1.81)]
    [InlineData("resnet34", 3.66)]
    [InlineData("resnet50", 4.09)]
    [InlineData("resnet101", 7.80)]
    [InlineData("resnet152", 11.51)]
    public void ResNetForwardMatchesTorchvisionsPublishedCounts(string arch, double gmacs)
    {
        double flops = FlopCount.ForwardPerImage(arch, 224)!.Value;
        Assert.InRange(flops / 2 / 1e9, gmacs * 0.99, gmacs * 1.01);
    }

    [Fact]
    public void StepsAreMultiplesOfTheForwardAndOtherFamiliesAreNotCounted()
    {
        Assert.Equal((30.0, 40.0, 10.0), FlopCount.PerStep(10));
        Assert.Null(FlopCount.ForwardPerImage("densenet121", 224));
        // Quadratic in the image side when every stage halves exactly (224 -> 7, 448 -> 14; the fc term aside).
        double small = FlopCount.ForwardPerImage("resnet50", 224)!.Value, large = FlopCount.ForwardPerImage("resnet50", 448)!.Value;
        Assert.InRange(large / small, 3.99, 4.0);
    }

    [Fact]
    public void TheMatmulPeakIsAPositiveRate()
    {
        double peak = MatmulPeak.Measure(sizes: [256], repeats: 2);
        Assert.True(peak > 0.1 && double.IsFinite(peak), $"{peak} GFLOP/s");
        double conv = MatmulPeak.ConvolutionRate(repeats: 1);
        Assert.True(conv > 0.1 && double.IsFinite(conv), $"{conv} GFLOP/s");
    }
}

using Smile.Methods;
using Smile.Training;

namespace Smile.Tests.Training;

public sealed class RegularizersTests
{
    [Fact]
    public void TheRegistryKnowsEveryMethod()
    {
        Assert.Equal(["smile", "l2", "mixup", "l2sp", "ls", "ils", "kd", "simtrans", "bss", "rifle", "lwf", "cotuning", "delta"], Regularizers.Names);
        foreach (var name in Regularizers.Names) Assert.Equal(name, Regularizers.Create(name).Name);
        Assert.Equal("smile", Regularizers.Create(" SMILE ").Name);
    }

    [Fact]
    public void AnUnknownNameListsTheKnownOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => Regularizers.Create("nosuch"));
        Assert.Equal("unknown regularizer 'nosuch'; known: smile, l2, mixup, l2sp, ls, ils, kd, simtrans, bss, rifle, lwf, cotuning, delta", error.Message);
    }

    [Theory]
    [InlineData("smile", true, true)]
    [InlineData("l2", false, false)]
    [InlineData("mixup", false, true)]
    [InlineData("l2sp", false, false)]
    [InlineData("ls", false, false)]
    [InlineData("ils", false, false)]
    [InlineData("kd", false, false)]
    [InlineData("simtrans", false, false)]
    [InlineData("lwf", true, false)]
    [InlineData("cotuning", true, false)]
    [InlineData("delta", true, false)]
    public void TeacherAndMixupNeeds(string name, bool needsTeacher, bool usesMixup)
    {
        var regularizer = Regularizers.Create(name);
        Assert.Equal(needsTeacher, regularizer.NeedsTeacher);
        Assert.Equal(usesMixup, regularizer.UsesMixup);
    }

    [Theory]
    [InlineData("conv1.weight", false)]
    [InlineData("bn1.bias", false)]
    [InlineData("layer4.1.bn2.weight", false)]
    [InlineData("layer2.0.downsample.0.weight", false)]
    [InlineData("fc.weight", true)]
    [InlineData("fc.bias", true)]
    [InlineData("aux_fc.weight", true)]
    [InlineData("aux_fc.bias", true)]
    public void OnlyL2SpSparesTheBackboneFromWeightDecay(string parameter, bool l2spDecays)
    {
        Assert.Equal(l2spDecays, Regularizers.Create("l2sp").WeightDecayApplies(parameter));
        foreach (var name in new[] { "smile", "l2", "mixup", "ls", "ils", "kd", "simtrans" })
            Assert.True(Regularizers.Create(name).WeightDecayApplies(parameter), $"{name} decays {parameter}");
    }
}

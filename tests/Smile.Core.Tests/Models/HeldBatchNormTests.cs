using Smile.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Tests.Models;

/// <summary>Smile's BatchNorm (Models/HeldBatchNorm.cs) is TorchSharp's, bit for bit, apart from holding its Scalars:
/// the same state-dict names, outputs, running statistics and batch count, in train and eval mode.</summary>
public class HeldBatchNormTests
{
    // TorchSharp's own BatchNorm is the reference here, so its factory (which SMILE001 refuses in the code) is allowed.
#pragma warning disable SMILE001
    private static BatchNorm TorchSharps(bool twoD, long features) => twoD ? nn.BatchNorm2d(features) : nn.BatchNorm1d(features);
#pragma warning restore SMILE001

    [Theory]
    [InlineData(true, new long[] { 4, 3, 5, 5 })]
    [InlineData(false, new long[] { 6, 3 })]
    [InlineData(false, new long[] { 6, 3, 7 })]
    public void ItComputesAndKeepsExactlyWhatTorchSharpsBatchNormDoes(bool twoD, long[] shape)
    {
        using var scope = NewDisposeScope();
        using var reference = TorchSharps(twoD, 3);
        using var held = twoD ? HeldBatchNorm.For2d(3) : HeldBatchNorm.For1d(3);
        Assert.Equal(reference.state_dict().Keys.Order(), held.state_dict().Keys.Order());
        using (no_grad())
        {
            var generator = new Generator(11);
            reference.weight.copy_(rand(3, generator: generator));
            reference.bias!.copy_(randn(3, generator: generator));
            held.weight.copy_(reference.weight);
            held.bias!.copy_(reference.bias);
        }

        for (int step = 0; step < 3; step++)
        {
            var x = randn(shape, generator: new Generator((ulong)step));
            Assert.True(reference.call(x).equal(held.call(x)).all().item<bool>(), $"train-mode output, step {step}");
        }
        Assert.Equal(3, held.num_batches_tracked!.item<long>());
        foreach (var (name, value) in reference.state_dict())
            Assert.True(value.equal(held.state_dict()[name]).all().item<bool>(), $"{name} differs after three training batches");

        reference.eval();
        held.eval();
        var probe = randn(shape, generator: new Generator(99));
        Assert.True(reference.call(probe).equal(held.call(probe)).all().item<bool>(), "eval-mode output");
        Assert.Equal(3, held.num_batches_tracked!.item<long>());
    }

    [Fact]
    public void AWrongInputRankIsRefusedAsTorchSharpRefusesIt()
    {
        using var scope = NewDisposeScope();
        using var twoD = HeldBatchNorm.For2d(3);
        using var oneD = HeldBatchNorm.For1d(3);
        Assert.Contains("expected 4D input, but got 3D input", Assert.Throws<ArgumentException>(() => twoD.call(zeros(2, 3, 4))).Message);
        Assert.Contains("expected 2D or 3D input, but got 4D input", Assert.Throws<ArgumentException>(() => oneD.call(zeros(2, 3, 4, 4))).Message);
    }
}

using Smile;
using Smile.Models;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Models;

/// <summary>The fused train-mode BatchNorm (+ residual) + ReLU (Models/FusedBatchNormRelu.cs) against LibTorch's
/// batch_norm, add_ and relu_ on the same bf16 channels-last maps: the output, the running statistics, the batch count
/// and every gradient. The fused path needs AVX-512; on a CPU without it these tests check that nothing is fused.</summary>
public class FusedBatchNormReluTests
{
    [Theory]
    [InlineData(64, 14, false)]
    [InlineData(256, 7, true)]
    [InlineData(32, 3, true)]
    public void ItMatchesLibTorchsOutputAndRunningStatisticsAndFloat64Gradients(int channels, int size, bool residual)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)channels);
        // Values off zero with a mean far from 0, so the variance cannot come out of a sum that cancels.
        var input = CudaSpeed.ToChannelsLast(randn(4, channels, size, size, generator: generator).Times(3.0).Plus(20.0)).to(ScalarType.BFloat16);
        var skip = residual ? CudaSpeed.ToChannelsLast(randn(4, channels, size, size, generator: generator)).to(ScalarType.BFloat16) : null;
        var upstream = CudaSpeed.ToChannelsLast(randn(4, channels, size, size, generator: generator)).to(ScalarType.BFloat16);
        using var fused = Batch(channels, generator);
        using var plain = Batch(channels, null);
        using (no_grad())
            foreach (var (name, value) in fused.state_dict()) plain.state_dict()[name].copy_(value);
        Assert.Equal(BatchNormReluKernels.Supported, FusedBatchNormRelu.Applies(fused, input, skip));
        if (!BatchNormReluKernels.Supported) return; // no AVX-512: nothing is fused (checked above)

        var (x1, r1) = (input.clone().requires_grad_(), skip?.clone().requires_grad_());
        var y1 = fused.ForwardRelu(x1, r1);
        var y2 = plain.call(input);
        y2 = (skip is null ? y2 : y2.Plus(skip)).relu();

        Assert.Equal(ScalarType.BFloat16, y1.dtype);
        Assert.Equal(y2.stride(), y1.stride());
        Relative(y2, y1, "output", 0.004);
        TensorAssert.Close(plain.running_mean!, fused.running_mean!, "running mean", 1e-5);
        TensorAssert.Close(plain.running_var!, fused.running_var!, "running variance", 1e-4);
        Assert.Equal(plain.num_batches_tracked!.item<long>(), fused.num_batches_tracked!.item<long>());

        (y1.to(ScalarType.Float32) * upstream).sum().backward();
        // The gradients against BatchNorm's in float64 from the same bf16 values: LibTorch's own bf16 backward is off by
        // 3% of the norm on the 256-channel map (a large mean against the spread), where the fused one stays at 0.2%.
        var x64 = input.to(ScalarType.Float64).requires_grad_();
        var r64 = skip?.to(ScalarType.Float64).requires_grad_();
        var w64 = plain.weight!.detach().to(ScalarType.Float64).requires_grad_();
        var b64 = plain.bias!.detach().to(ScalarType.Float64).requires_grad_();
        var z = nn.functional.batch_norm(x64, null, null, w64, b64, true, 0.1, 1e-5);
        z = (r64 is null ? z : z.Plus(r64)).relu();
        (z * upstream.to(ScalarType.Float64)).sum().backward();
        Relative(x64.grad!, x1.grad!, "input gradient", 0.005);
        Relative(w64.grad!, fused.weight!.grad!, "weight gradient", 0.005);
        Relative(b64.grad!, fused.bias!.grad!, "bias gradient", 0.005);
        if (residual) Relative(r64!.grad!, r1!.grad!, "residual gradient", 0.005);
        else Assert.Null(r1);
    }

    [Fact]
    public void ANaNInAChannelMakesThatChannelNaNAsLibTorchsDoes()
    {
        using var scope = NewDisposeScope();
        if (!BatchNormReluKernels.Supported) return; // no AVX-512: nothing is fused (the test above checks that)
        var x = CudaSpeed.ToChannelsLast(randn(2, 32, 4, 4, generator: new Generator(3)));
        x[1, 5, 2, 3] = float.NaN;
        x = x.to(ScalarType.BFloat16);
        using var fused = Batch(32, new Generator(4));
        using var plain = Batch(32, null);
        using (no_grad())
            foreach (var (name, value) in fused.state_dict()) plain.state_dict()[name].copy_(value);
        using (no_grad())
        {
            var y1 = fused.ForwardRelu(x);
            var y2 = plain.call(x).relu();
            Assert.True(y1.isnan().equal(y2.isnan()).all().item<bool>(), "NaN positions differ");
            Assert.Equal(32, y1.isnan().sum().item<long>());
        }
    }

    [Fact]
    public void MapsItCannotFuseTakeLibTorchsPath()
    {
        using var scope = NewDisposeScope();
        var bn = Batch(32, new Generator(5));
        var nchw = randn(2, 32, 4, 4).to(ScalarType.BFloat16);
        var fp32 = CudaSpeed.ToChannelsLast(randn(2, 32, 4, 4));
        var odd = CudaSpeed.ToChannelsLast(randn(2, 24, 4, 4)).to(ScalarType.BFloat16);
        var fine = CudaSpeed.ToChannelsLast(randn(2, 32, 4, 4)).to(ScalarType.BFloat16);
        Assert.False(FusedBatchNormRelu.Applies(bn, nchw, null), "NCHW");
        Assert.False(FusedBatchNormRelu.Applies(bn, fp32, null), "fp32");
        Assert.False(FusedBatchNormRelu.Applies(Batch(24, null), odd, null), "24 channels");
        Assert.False(FusedBatchNormRelu.Applies(bn, fine, nchw), "an NCHW residual");
        bn.eval();
        Assert.False(FusedBatchNormRelu.Applies(bn, fine, null), "eval mode");
        bn.train();
        // LibTorch's path computes what it always did: relu(bn(x) + residual).
        using var reference = Batch(32, null);
        using (no_grad())
            foreach (var (name, value) in bn.state_dict()) reference.state_dict()[name].copy_(value);
        var expected = reference.call(nchw).Plus(nchw).relu();
        Assert.True(expected.equal(bn.ForwardRelu(nchw, nchw)).all().item<bool>());
    }

    /// <summary>A BatchNorm with random affine parameters and running statistics (<paramref name="generator"/> null: the
    /// defaults, to be overwritten).</summary>
    private static HeldBatchNorm Batch(int channels, Generator? generator)
    {
        var bn = HeldBatchNorm.For2d(channels);
        if (generator is not null)
            using (no_grad())
            {
                bn.weight!.copy_(rand(channels, generator: generator).Plus(0.5));
                bn.bias!.copy_(randn(channels, generator: generator));
                bn.running_mean!.copy_(randn(channels, generator: generator));
                bn.running_var!.copy_(rand(channels, generator: generator).Plus(0.5));
            }
        bn.train();
        return bn;
    }

    /// <summary>|actual - expected| over |expected| in the 2-norm: bf16 rounding moves single values (and may flip a ReLU
    /// near zero), a wrong formula moves the whole.</summary>
    private static void Relative(Tensor expected, Tensor actual, string what, double tolerance)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var e = expected.to(ScalarType.Float64);
        using var a = actual.to(ScalarType.Float64);
        double error = (a - e).norm().item<double>() / e.norm().item<double>();
        Assert.True(error <= tolerance, $"{what}: relative error {error:E3} > {tolerance:E0}");
    }
}

using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace Smile.Models;

/// <summary>
/// Train-mode BatchNorm, an optional residual add and ReLU as one operation with its own backward, for bf16
/// channels-last maps on a CPU with AVX-512 (<see cref="BatchNormReluKernels"/>). LibTorch 2.10 runs BatchNorm, the
/// add and ReLU there as three AVX2 kernels with a pass over the map each, forward and backward; this reads the map
/// twice forward and twice backward (docs/PERFORMANCE.md, "A fused BatchNorm + add + ReLU"). The arithmetic is
/// BatchNorm's (biased variance to normalise, unbiased for the running variance, the module's momentum and eps), the
/// running statistics are updated as LibTorch updates them, and the outputs agree with LibTorch's to bf16 rounding
/// (tests/Smile.Core.Tests/Models/FusedBatchNormReluTests.cs). Everything else takes LibTorch's path.
/// </summary>
/// <remarks>SMILE_FUSED_BATCHNORM=0 turns it off, to measure what it does.</remarks>
internal static class FusedBatchNormRelu
{
    private static bool enabled = Environment.GetEnvironmentVariable("SMILE_FUSED_BATCHNORM") != "0";

    /// <summary>Whether eligible maps take the fused path (tests turn it off to compare with LibTorch's).</summary>
    public static bool Enabled { get => enabled; set => enabled = value; }

    /// <summary>Whether <paramref name="bn"/> on <paramref name="input"/> (and <paramref name="residual"/>) can run fused:
    /// training with batch statistics and running statistics, a CPU bf16 N x C x H x W map stored channels-last with C a
    /// multiple of 16 and more than one value per channel, fp32 affine parameters, a residual laid out as the input.</summary>
    public static bool Applies(HeldBatchNorm bn, Tensor input, Tensor? residual)
    {
        if (!enabled || !BatchNormReluKernels.Supported || !bn.training || bn.momentum is null) return false;
        if (bn.running_mean is null || bn.running_var is null || bn.weight is null || bn.bias is null) return false;
        if (input.device_type != DeviceType.CPU || input.dtype != ScalarType.BFloat16 || input.dim() != 4) return false;
        if (input.shape[1] % BatchNormReluKernels.Lanes != 0 || input.numel() / input.shape[1] < 2 || !DenseChannelsLast(input)) return false;
        if (residual is not null && (residual.dtype != ScalarType.BFloat16 || residual.device_type != DeviceType.CPU
                                     || !residual.shape.SequenceEqual(input.shape) || !DenseChannelsLast(residual))) return false;
        return Fp32(bn.weight) && Fp32(bn.bias) && Fp32(bn.running_mean) && Fp32(bn.running_var);
    }

    private static long calls;

    /// <summary>How many fused forwards this process has run (for tests that a model's step took this path).</summary>
    public static long Calls => Interlocked.Read(ref calls);

    /// <summary><c>relu(bn(input) [+ residual])</c> with <see cref="Applies"/> true; the caller counts the batch.</summary>
    public static Tensor Forward(HeldBatchNorm bn, Tensor input, Tensor? residual)
    {
        Interlocked.Increment(ref calls);
        HandedOver.Release();
        // The function's own scope: TorchSharp keeps an empty_like of every output of a custom function for gradients
        // that never arrive (none do here: materialize_grads is off), and this frees it now instead of at the step's end.
        using var scope = NewDisposeScope();
        return Function.apply(input, bn.weight!, bn.bias!, residual!, bn).MoveToOuterDisposeScope();
    }

    /// <summary>Whether <paramref name="t"/>'s values lie as N*H*W dense rows of C (the stride of a dimension of size 1
    /// does not matter: a 1x1 map LibTorch calls contiguous lies so too).</summary>
    private static bool DenseChannelsLast(Tensor t)
    {
        var (size, stride) = (t.shape, t.stride());
        long[] dense = [size[1] * size[2] * size[3], 1, size[1] * size[3], size[1]];
        for (int d = 0; d < 4; d++)
            if (size[d] > 1 && stride[d] != dense[d]) return false;
        return true;
    }

    private static bool Fp32(Tensor t) => t.dtype == ScalarType.Float32 && t.device_type == DeviceType.CPU && t.is_contiguous();

    private static int Threads => Math.Max(1, torch.get_num_threads());

    private static unsafe ushort* Bf16(Tensor t) => (ushort*)Smile.Native.TensorAddress.Of(t);

    private static unsafe float* Fp32Data(Tensor t) => (float*)Smile.Native.TensorAddress.Of(t);

    /// <summary>What the backward needs besides the saved maps.</summary>
    private sealed record Statistics(float[] Mean, float[] InvStd, float[] Weight, long Rows, bool ResidualGradient, bool InputGradient);

    private sealed class Function : SingleTensorFunction<Function>
    {
        public override string Name => "FusedBatchNormReluBackward";

        public override unsafe Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var (x, weight, bias, residual, bn) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], vars[3] as Tensor, (HeldBatchNorm)vars[4]);
            int c = (int)x.shape[1];
            long rows = x.numel() / c;
            var mean = new double[c];
            var variance = new double[c];
            BatchNormReluKernels.Moments(Bf16(x), rows, c, mean, variance, Threads);

            var (meanF, invStd, scale, shift, w) = (new float[c], new float[c], new float[c], new float[c], new float[c]);
            float* wp = Fp32Data(weight), bp = Fp32Data(bias), rm = Fp32Data(bn.running_mean!), rv = Fp32Data(bn.running_var!);
            double momentum = bn.momentum!.Value, unbiased = rows / (rows - 1.0);
            for (int k = 0; k < c; k++)
            {
                // As LibTorch's batch_norm_cpu_update_stats_template: float arithmetic on the running buffers.
                float m = (float)mean[k];
                meanF[k] = m;
                invStd[k] = (float)(1 / Math.Sqrt(variance[k] + bn.eps));
                rm[k] = (float)(momentum * m + (1 - momentum) * rm[k]);
                rv[k] = (float)(momentum * variance[k] * unbiased + (1 - momentum) * rv[k]);
                w[k] = wp[k];
                scale[k] = wp[k] * invStd[k];
                shift[k] = bp[k] - m * scale[k];
            }
            var y = empty_like(x);
            BatchNormReluKernels.Normalise(Bf16(x), residual is null ? null : Bf16(residual), Bf16(y), rows, c, scale, shift, Threads);

            ctx.set_materialize_grads(false);
            ctx.save_for_backward([x, y]);
            ctx.save_data("statistics", new Statistics(meanF, invStd, w, rows, residual is { requires_grad: true }, x.requires_grad));
            return y;
        }

        public override unsafe List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
        {
            HandedOver.Release();
            if (gradOutput is null || gradOutput.IsInvalid) return [null!, null!, null!, null!, null!]; // no gradient reached the output
            var stats = (Statistics)ctx.get_data("statistics");
            var saved = ctx.get_saved_variables();
            var (x, y) = (saved[0], saved[1]);
            int c = (int)x.shape[1];
            var gy = DenseChannelsLast(gradOutput) ? gradOutput : Smile.Training.CudaSpeed.ToChannelsLast(gradOutput);
            var passed = stats.ResidualGradient ? empty_like(x) : null;
            var (sumG, sumGx) = (new double[c], new double[c]);
            BatchNormReluKernels.GradientSums(Bf16(gy), Bf16(x), Bf16(y), passed is null ? null : Bf16(passed), stats.Rows, c, stats.Mean, sumG, sumGx, Threads);

            var (gw, gb) = (new float[c], new float[c]);
            var (a, b, k3) = (new float[c], new float[c], new float[c]);
            for (int k = 0; k < c; k++)
            {
                double inv = stats.InvStd[k], weightInv = stats.Weight[k] * inv;
                gb[k] = (float)sumG[k];
                gw[k] = (float)(sumGx[k] * inv);
                // gx = w * inv * (g - sum(g) / M - (x - mean) * inv^2 * sum(g * (x - mean)) / M)
                double slope = -weightInv * inv * inv * sumGx[k] / stats.Rows;
                a[k] = (float)weightInv;
                b[k] = (float)slope;
                k3[k] = (float)(-weightInv * sumG[k] / stats.Rows - slope * stats.Mean[k]);
            }
            Tensor? gx = null;
            if (stats.InputGradient)
            {
                gx = empty_like(x);
                BatchNormReluKernels.InputGradient(Bf16(gy), Bf16(x), Bf16(y), Bf16(gx), stats.Rows, c, a, b, k3, Threads);
            }
            var gradients = new List<Tensor> { gx!, tensor(gw), tensor(gb), passed!, null! };
            HandedOver.Keep(gradients);
            foreach (var t in saved) t.Dispose();
            if (!ReferenceEquals(gy, gradOutput)) gy.Dispose();
            gradOutput.Dispose();
            return gradients;
        }
    }

    /// <summary>
    /// The gradients a backward hands LibTorch: LibTorch takes its own reference when the backward returns, but the
    /// managed handles would stay in the step's dispose scope, keeping every layer's input gradient alive until the
    /// step ends. They are disposed at the next fused call instead (by then LibTorch holds what it still needs), and
    /// the last set of a step at the next step's first fused call.
    /// </summary>
    private static class HandedOver
    {
        private static readonly List<Tensor> pending = [];

        public static void Keep(List<Tensor> tensors)
        {
            lock (pending)
                foreach (var t in tensors)
                    if (t is not null) pending.Add(t.DetachFromDisposeScope());
        }

        public static void Release()
        {
            lock (pending)
            {
                foreach (var t in pending) t.Dispose();
                pending.Clear();
            }
        }
    }
}

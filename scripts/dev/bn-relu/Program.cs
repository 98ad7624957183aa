// Train-mode BatchNorm followed by ReLU on a bf16 channels-last map (batch 16, 2 threads), forward only: LibTorch's
// batch_norm + relu_ (its AVX2 kernels) against a two-pass AVX-512 kernel written here (per-channel sums in fp32 over
// 256 rows, then in fp64; then normalise, ReLU and round to bf16 in one pass). Prints both times, twice, and the
// largest difference of the outputs. A feasibility probe: no backward, no running statistics, no NaN handling.
using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Smile.Native;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

torch.set_num_threads(2);
if (!Avx512F.IsSupported) { Console.WriteLine("this CPU has no AVX-512"); return; }
using Scalar half = 0.5, tenth = 0.1, one = 1;
foreach (var (c, h) in new (long, long)[] { (64, 112), (64, 56), (256, 56), (128, 28), (512, 28), (256, 14), (1024, 14), (512, 7), (2048, 7) })
{
    using var scope = NewDisposeScope();
    var x = CudaSpeed.ToChannelsLast(randn(16, c, h, h)).to(ScalarType.BFloat16);
    var w = rand(c).add_(half, one); var b = randn(c).mul_(tenth);
    var rm = zeros(c); var rv = ones(c);
    var y = empty_like(x);
    Tensor Aten() => nn.functional.batch_norm(x, rm, rv, w, b, true, 0.1, 1e-5).relu_();
    var reference = Aten();
    var mean = new float[c]; var invstd = new float[c];
    Fused.Forward(x, w, b, y, mean, invstd);
    float gap = (y.to(ScalarType.Float32) - reference.to(ScalarType.Float32)).abs().max().item<float>();
    double tA = Time(() => { using var s = NewDisposeScope(); Aten(); });
    double tF = Time(() => Fused.Forward(x, w, b, y, mean, invstd));
    double tA2 = Time(() => { using var s = NewDisposeScope(); Aten(); });
    double tF2 = Time(() => Fused.Forward(x, w, b, y, mean, invstd));
    Console.WriteLine($"{c} @{h}: ATen bn+relu {tA:F2}/{tA2:F2} ms, fused {tF:F2}/{tF2:F2} ms, max diff {gap:G3}");
}

static double Time(Action a)
{
    a(); a();
    var sw = Stopwatch.StartNew();
    for (int i = 0; i < 20; i++) a();
    return sw.Elapsed.TotalMilliseconds / 20;
}

static unsafe class Fused
{
    static Vector512<float> Widen(ushort* p) =>
        Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(Vector256.Load(p)), 16).AsSingle();

    static Vector256<ushort> Narrow(Vector512<float> f)
    {
        var u = f.AsUInt32();
        var lsb = Avx512F.And(Avx512F.ShiftRightLogical(u, 16), Vector512.Create(1u));
        var r = Avx512F.ShiftRightLogical(Avx512F.Add(Avx512F.Add(u, lsb), Vector512.Create(0x7FFFu)), 16);
        return Avx512F.ConvertToVector256UInt16(r);
    }

    public static void Forward(Tensor x, Tensor weight, Tensor bias, Tensor y, float[] meanOut, float[] invstdOut)
    {
        long c = x.shape[1];
        long m = x.numel() / c;
        ushort* xp = (ushort*)TensorAddress.Of(x);
        ushort* yp = (ushort*)TensorAddress.Of(y);
        int threads = 2;
        var sums = new double[threads, c]; var sqs = new double[threads, c];
        Parallel.For(0, threads, t =>
        {
            long r0 = m * t / threads, r1 = m * (t + 1) / threads;
            var s = new float[c]; var q = new float[c];
            fixed (float* sp = s, qp = q)
            {
                for (long r = r0; r < r1; r++)
                {
                    ushort* row = xp + r * c;
                    for (long k = 0; k < c; k += 16)
                    {
                        var v = Widen(row + k);
                        Vector512.Store(Vector512.Load(sp + k) + v, sp + k);
                        Vector512.Store(Avx512F.FusedMultiplyAdd(v, v, Vector512.Load(qp + k)), qp + k);
                    }
                    if (((r - r0) & 255) == 255 || r == r1 - 1)
                        for (long k = 0; k < c; k++) { sums[t, k] += s[k]; sqs[t, k] += q[k]; s[k] = 0; q[k] = 0; }
                }
            }
        });
        var scale = new float[c]; var shift = new float[c];
        float* wp = (float*)TensorAddress.Of(weight); float* bp = (float*)TensorAddress.Of(bias);
        for (long k = 0; k < c; k++)
        {
            double sum = 0, sq = 0;
            for (int t = 0; t < threads; t++) { sum += sums[t, k]; sq += sqs[t, k]; }
            double mean = sum / m, var = Math.Max(0, sq / m - mean * mean);
            float inv = (float)(1 / Math.Sqrt(var + 1e-5));
            meanOut[k] = (float)mean; invstdOut[k] = inv;
            scale[k] = wp[k] * inv; shift[k] = bp[k] - (float)mean * wp[k] * inv;
        }
        Parallel.For(0, threads, t =>
        {
            long r0 = m * t / threads, r1 = m * (t + 1) / threads;
            fixed (float* sc = scale, sh = shift)
            {
                var zero = Vector512<float>.Zero;
                for (long r = r0; r < r1; r++)
                {
                    ushort* row = xp + r * c; ushort* outRow = yp + r * c;
                    for (long k = 0; k < c; k += 16)
                    {
                        var v = Avx512F.FusedMultiplyAdd(Widen(row + k), Vector512.Load(sc + k), Vector512.Load(sh + k));
                        Narrow(Avx512F.Max(v, zero)).Store(outRow + k);
                    }
                }
            }
        });
    }
}

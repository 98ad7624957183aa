using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Smile.Models;

/// <summary>
/// The AVX-512 loops of <see cref="FusedBatchNormRelu"/>: train-mode BatchNorm, an optional residual add and ReLU on
/// a bf16 channels-last map, seen as <c>rows</c> = N*H*W rows of <c>channels</c> contiguous values (a multiple of 16).
/// Sums are taken in fp32 over <see cref="FlushRows"/> rows and then carried in fp64, so a channel of a million values
/// loses no more than a short fp32 sum does; the variance is taken around the first row's values (a shift that keeps
/// E[x^2] - E[x]^2 from cancelling when the mean is large against the spread). Results are rounded to bf16 to nearest,
/// ties to even, as LibTorch rounds; a NaN stays a NaN (ReLU of a NaN is a NaN, as LibTorch's is).
/// </summary>
internal static unsafe class BatchNormReluKernels
{
    public const int Lanes = 16;
    private const int FlushRows = 256;

    public static bool Supported => Avx512F.IsSupported && Avx512BW.IsSupported;

    /// <summary>The biased batch variance and mean of each channel of <paramref name="x"/>.</summary>
    public static void Moments(ushort* x, long rows, int channels, double[] mean, double[] variance, int threads)
    {
        var shift = new float[channels];
        for (int k = 0; k < channels; k++) shift[k] = BitConverter.Int32BitsToSingle(x[k] << 16);
        var sums = new double[threads, channels];
        var squares = new double[threads, channels];
        Parallel.For(0, threads, t =>
        {
            var (r0, r1) = Slice(rows, t, threads);
            var s = new float[channels];
            var q = new float[channels];
            fixed (float* sp = s, qp = q, hp = shift)
                for (long r = r0; r < r1; r++)
                {
                    ushort* row = x + r * channels;
                    for (int k = 0; k < channels; k += Lanes)
                    {
                        var v = Widen(row + k) - Vector512.Load(hp + k);
                        Vector512.Store(Vector512.Load(sp + k) + v, sp + k);
                        Vector512.Store(Avx512F.FusedMultiplyAdd(v, v, Vector512.Load(qp + k)), qp + k);
                    }
                    if ((r - r0) % FlushRows == FlushRows - 1 || r == r1 - 1) Flush(s, q, sums, squares, t);
                }
        });
        for (int k = 0; k < channels; k++)
        {
            var (s, q) = Total(sums, squares, k);
            double centred = s / rows;
            mean[k] = shift[k] + centred;
            variance[k] = Math.Max(0, q / rows - centred * centred);
        }
    }

    /// <summary><c>y = relu(x * scale + shift [+ residual])</c> per channel.</summary>
    public static void Normalise(ushort* x, ushort* residual, ushort* y, long rows, int channels, float[] scale, float[] shift, int threads)
    {
        Parallel.For(0, threads, t =>
        {
            var (r0, r1) = Slice(rows, t, threads);
            fixed (float* sc = scale, sh = shift)
                for (long r = r0; r < r1; r++)
                {
                    long at = r * channels;
                    for (int k = 0; k < channels; k += Lanes)
                    {
                        var v = Avx512F.FusedMultiplyAdd(Widen(x + at + k), Vector512.Load(sc + k), Vector512.Load(sh + k));
                        if (residual != null) v += Widen(residual + at + k);
                        // max(0, v) in this order: vmaxps returns its second operand when one is NaN, so a NaN passes.
                        Narrow(Avx512F.Max(Vector512<float>.Zero, v)).Store(y + at + k);
                    }
                }
        });
    }

    /// <summary>The backward's first pass: per channel, the sum of the gradient that passes the ReLU (g = gy where y > 0)
    /// and of g * (x - mean); writes g itself into <paramref name="passed"/> when it is given (the residual's gradient).</summary>
    public static void GradientSums(ushort* gy, ushort* x, ushort* y, ushort* passed, long rows, int channels, float[] mean, double[] sumG, double[] sumGx, int threads)
    {
        var sums = new double[threads, channels];
        var products = new double[threads, channels];
        Parallel.For(0, threads, t =>
        {
            var (r0, r1) = Slice(rows, t, threads);
            var s = new float[channels];
            var p = new float[channels];
            fixed (float* sp = s, pp = p, mp = mean)
                for (long r = r0; r < r1; r++)
                {
                    long at = r * channels;
                    for (int k = 0; k < channels; k += Lanes)
                    {
                        var g = Passed(gy + at + k, y + at + k);
                        if (passed != null) Exact(g).Store(passed + at + k);
                        Vector512.Store(Vector512.Load(sp + k) + g, sp + k);
                        Vector512.Store(Avx512F.FusedMultiplyAdd(g, Widen(x + at + k) - Vector512.Load(mp + k), Vector512.Load(pp + k)), pp + k);
                    }
                    if ((r - r0) % FlushRows == FlushRows - 1 || r == r1 - 1) Flush(s, p, sums, products, t);
                }
        });
        for (int k = 0; k < channels; k++) (sumG[k], sumGx[k]) = Total(sums, products, k);
    }

    /// <summary>The backward's second pass: <c>gx = g * a + x * b + c</c> per channel, g as in <see cref="GradientSums"/>.</summary>
    public static void InputGradient(ushort* gy, ushort* x, ushort* y, ushort* gx, long rows, int channels, float[] a, float[] b, float[] c, int threads)
    {
        Parallel.For(0, threads, t =>
        {
            var (r0, r1) = Slice(rows, t, threads);
            fixed (float* ap = a, bp = b, cp = c)
                for (long r = r0; r < r1; r++)
                {
                    long at = r * channels;
                    for (int k = 0; k < channels; k += Lanes)
                    {
                        var g = Passed(gy + at + k, y + at + k);
                        var v = Avx512F.FusedMultiplyAdd(g, Vector512.Load(ap + k), Avx512F.FusedMultiplyAdd(Widen(x + at + k), Vector512.Load(bp + k), Vector512.Load(cp + k)));
                        Narrow(v).Store(gx + at + k);
                    }
                }
        });
    }

    /// <summary>Adds a thread's two fp32 partial sums into its fp64 row of <paramref name="a"/> and <paramref name="b"/> and
    /// clears them.</summary>
    private static void Flush(float[] x, float[] y, double[,] a, double[,] b, int thread)
    {
        for (int k = 0; k < x.Length; k++)
        {
            a[thread, k] += x[k]; b[thread, k] += y[k];
            x[k] = 0; y[k] = 0;
        }
    }

    /// <summary>Channel <paramref name="k"/>'s two sums over the threads.</summary>
    private static (double A, double B) Total(double[,] a, double[,] b, int k)
    {
        double sa = 0, sb = 0;
        for (int t = 0; t < a.GetLength(0); t++) { sa += a[t, k]; sb += b[t, k]; }
        return (sa, sb);
    }

    private static (long From, long To) Slice(long rows, int t, int threads) => (rows * t / threads, rows * (t + 1) / threads);

    /// <summary>The gradient through ReLU: gy where y > 0, else 0 (a NaN y passes nothing, as LibTorch's threshold_backward).</summary>
    private static Vector512<float> Passed(ushort* gy, ushort* y)
    {
        var open = Vector512.GreaterThan(Widen(y), Vector512<float>.Zero);
        return Vector512.ConditionalSelect(open, Widen(gy), Vector512<float>.Zero);
    }

    private static Vector512<float> Widen(ushort* p) =>
        Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(Vector256.Load(p)), 16).AsSingle();

    /// <summary>A value that came from bf16 back to bf16: its high half, exactly.</summary>
    private static Vector256<ushort> Exact(Vector512<float> f) => Avx512F.ConvertToVector256UInt16(Avx512F.ShiftRightLogical(f.AsUInt32(), 16));

    /// <summary>fp32 to bf16, to nearest with ties to even; a NaN becomes a quiet NaN of the same sign.</summary>
    private static Vector256<ushort> Narrow(Vector512<float> f)
    {
        var u = f.AsUInt32();
        var high = Avx512F.ShiftRightLogical(u, 16);
        var rounded = Avx512F.ShiftRightLogical(u + (high & Vector512<uint>.One) + Vector512.Create(0x7FFFu), 16);
        var quietNan = high | Vector512.Create(0x40u);
        return Avx512F.ConvertToVector256UInt16(Vector512.ConditionalSelect(Vector512.Equals(f, f).AsUInt32(), rounded, quietNan));
    }
}

using System.Diagnostics;
using static TorchSharp.torch;

namespace Smile.Diagnostics;

/// <summary>The machine's measured fp32 matrix-multiply rate through LibTorch (its GEMM, this process's threads):
/// the ceiling a convolution-bound training step can approach.</summary>
public static class MatmulPeak
{
    /// <summary>GFLOP/s of the best of <paramref name="repeats"/> n x n products after a warm-up.</summary>
    public static double Measure(int n = 2048, int repeats = 5)
    {
        using var scope = NewDisposeScope();
        var a = randn(n, n);
        var b = randn(n, n);
        matmul(a, b).Dispose(); // warm-up: thread pool, packing buffers
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            matmul(a, b).Dispose();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * n / best / 1e9;
    }
}

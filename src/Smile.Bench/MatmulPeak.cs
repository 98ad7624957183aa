using System.Diagnostics;
using static TorchSharp.torch;

namespace Smile.Bench;

/// <summary>The machine's measured fp32 arithmetic rates through LibTorch, with this process's threads: its matrix
/// product (GEMM) and one large 3x3 convolution (oneDNN's direct kernel). On these machines oneDNN's convolutions
/// run faster than LibTorch's GEMM, so a convolution-bound step can exceed the GEMM rate; both are printed.</summary>
public static class MatmulPeak
{
    /// <summary>GFLOP/s of the best n x n product over <paramref name="sizes"/> (default 2048 and 4096), best of
    /// <paramref name="repeats"/> each after a warm-up.</summary>
    public static double Measure(int[]? sizes = null, int repeats = 3)
    {
        double best = 0;
        foreach (int n in sizes ?? [2048, 4096])
        {
            using var scope = NewDisposeScope();
            var a = randn(n, n);
            var b = randn(n, n);
            best = Math.Max(best, 2.0 * n * n * n / 1e9 / BestSeconds(() => matmul(a, b).Dispose(), repeats));
        }
        return best;
    }

    /// <summary>GFLOP/s of a 3x3, 256-to-256-channel convolution forward on 16 x 256 x 28 x 28 (a ResNet layer2-sized
    /// one, scaled up in channels), best of <paramref name="repeats"/> after a warm-up.</summary>
    public static double ConvolutionRate(int repeats = 5)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        const int n = 16, c = 256, hw = 28;
        var x = randn(n, c, hw, hw);
        var w = randn(c, c, 3, 3);
        double flops = 2.0 * n * c * c * 9 * hw * hw;
        return flops / 1e9 / BestSeconds(() => nn.functional.conv2d(x, w, padding: [1, 1]).Dispose(), repeats);
    }

    private static double BestSeconds(Action action, int repeats)
    {
        action(); // warm-up: thread pool, packing buffers, oneDNN primitive creation
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return best;
    }
}

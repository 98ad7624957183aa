using System.Diagnostics;
using Smile.Methods;
using Smile.Training;

namespace Smile.Bench;

/// <summary>The process's resident memory after <paramref name="Iteration"/> iterations, and the seconds they took.</summary>
public sealed record MemoryReading(long Iteration, double RssMiB, double Seconds);

/// <summary>
/// Resident memory over a long run of one regularizer's training step on <see cref="BenchmarkWorkload"/> (no data
/// loader, so nothing but the step allocates): a tensor or native object leaked per step shows as steady growth.
/// The figure is the plain resident set (VmRSS), what a user's monitor shows, without trimming glibc's free lists.
/// </summary>
public static class MemoryBenchmark
{
    /// <summary>Runs <paramref name="iterations"/> steps, reading the resident set after every <paramref name="every"/>-th
    /// (and after the last).</summary>
    public static IReadOnlyList<MemoryReading> Run(string arch, int imageSize, int batchSize, string regularizer, int iterations, int every,
        Action<MemoryReading>? progress = null)
    {
        if (iterations < 1) throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "at least 1 iteration");
        if (every < 1) throw new ArgumentOutOfRangeException(nameof(every), every, "must be at least 1");
        using var work = new BenchmarkWorkload(arch, imageSize, batchSize);
        var step = Regularizers.Create(regularizer);
        var readings = new List<MemoryReading>();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            work.Step(step, i);
            if ((i + 1) % every == 0 || i + 1 == iterations)
            {
                var reading = new MemoryReading(i + 1, ProcessMemory.ResidentMiB(), clock.Elapsed.TotalSeconds);
                readings.Add(reading);
                progress?.Invoke(reading);
            }
        }
        return readings;
    }
}

using System.Globalization;
using System.Text.RegularExpressions;

namespace Smile.Tests.Cli;

/// <summary>
/// `smile bench memory` on a small case, Smile's side only: its own process, with the CLI's allocator policy, and no
/// data loader, so only the training step allocates. The resident set must stay within 5% of its first reading.
/// This is what draining TorchSharp's finalizer garbage after each step buys (Smile.Native.NativeGarbage): without it
/// (SMILE_DRAIN_FINALIZERS=0) the same run grew by 20-27 MiB a step until the GC first ran (docs/PERFORMANCE.md).
/// </summary>
public class BenchMemoryCliTests
{
    [Fact]
    public void ResidentMemoryStaysFlatOverSmileSteps()
    {
        var r = SmileProcess.Run("bench", "memory", "--model_arch", "resnet18", "--image_size", "32", "--batch_size", "32",
            "--regularizer", "smile", "--iters", "40", "--every", "5", "--baseline", "no");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
        Assert.Contains("finalizer drain on", r.Stdout);
        var rows = Regex.Matches(r.Stdout, @"^\s*(\d+)\s+(\d+)\s+-\s*$", RegexOptions.Multiline)
            .Select(m => (Iteration: int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), Rss: double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)))
            .ToList();
        Assert.Equal(Enumerable.Range(1, 8).Select(i => 5 * i), rows.Select(x => x.Iteration));
        double first = rows[0].Rss, peak = rows.Max(x => x.Rss);
        Assert.True(peak <= first * 1.05, $"resident memory grew from {first} MiB after 5 steps to {peak} MiB: {string.Join(", ", rows.Select(x => x.Rss))}");
        Assert.Matches(@"Smile: \d+ MiB after 40 iterations, \d+ MiB after 5: [+-]\d+\.\d%", r.Stdout);
    }
}

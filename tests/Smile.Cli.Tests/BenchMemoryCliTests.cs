using System.Globalization;
using System.Text.RegularExpressions;

namespace Smile.Tests.Cli;

/// <summary>
/// `smile bench memory` on a small case, Smile's side only: its own process, with the CLI's allocator policy, and no
/// data loader, so only the training step allocates. After the first 10 iterations (the heap's warm-up: one reading in
/// CI grew 5% between iterations 5 and 10, then stayed flat) the resident set must stay within 5% of that reading.
/// This is what draining TorchSharp's finalizer garbage after each step buys (Smile.Native.NativeGarbage): without it
/// (SMILE_DRAIN_FINALIZERS=0) a 40-iteration run grew from 652 MiB after 5 to 1067 MiB after 40 (docs/PERFORMANCE.md).
/// </summary>
public class BenchMemoryCliTests
{
    [Fact]
    public void ResidentMemoryStaysFlatOverSmileSteps()
    {
        var r = SmileProcess.Run("bench", "memory", "--model_arch", "resnet18", "--image_size", "32", "--batch_size", "32",
            "--regularizer", "smile", "--iters", "50", "--every", "10", "--baseline", "no");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
        Assert.Contains("finalizer drain on", r.Stdout);
        var rows = Regex.Matches(r.Stdout, @"^\s*(\d+)\s+(\d+)\s+-\s*$", RegexOptions.Multiline)
            .Select(m => (Iteration: int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), Rss: double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)))
            .ToList();
        Assert.Equal(Enumerable.Range(1, 5).Select(i => 10 * i), rows.Select(x => x.Iteration));
        double first = rows[0].Rss, peak = rows.Max(x => x.Rss);
        Assert.True(peak <= first * 1.05, $"resident memory grew from {first} MiB after 10 steps to {peak} MiB: {string.Join(", ", rows.Select(x => x.Rss))}");
        Assert.Matches(@"Smile: \d+ MiB after 50 iterations, \d+ MiB after 10: [+-]\d+\.\d%", r.Stdout);
    }
}

using System.Text.RegularExpressions;

namespace Smile.Tests.Cli;

/// <summary>`smile bench profile` on a tiny case, PyTorch side (bench/torch_profile.py under /usr/bin/python3) included:
/// every table is printed with figures on both sides.</summary>
public class BenchProfileCliTests
{
    [Fact]
    public void TinyProfilePrintsStageBlockAndOperationTablesForBothSides()
    {
        var r = SmileProcess.Run("bench", "profile", "--model_arch", "resnet18", "--image_size", "32", "--batch_size", "4", "--repeats", "1");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
        Assert.DoesNotContain("warning", r.Stderr); // the PyTorch side ran to the end
        Assert.Contains("PyTorch 1.13", r.Stdout);
        // A figure, a PyTorch figure and a ratio on the rows that matter.
        foreach (var row in new[] { "student forward", "backward", "optimizer step", "EMA (every 10th, amortised)", "layer4.1", "avgpool+fc", "conv1" })
            Assert.Matches(new Regex($@"^{Regex.Escape(row)}\s+[\d.]+\s+[\d.]+\s+[\d.]+x", RegexOptions.Multiline), r.Stdout);
        Assert.Equal(3, Regex.Matches(r.Stdout, @"^total\s+[\d.]+\s+[\d.]+\s+[\d.]+x", RegexOptions.Multiline).Count);
        Assert.Equal(3, Regex.Matches(r.Stdout, @"<-- worst\r?$", RegexOptions.Multiline).Count);
        Assert.Matches(@"Operations of (stem|layer\d\.\d)", r.Stdout);
    }
}

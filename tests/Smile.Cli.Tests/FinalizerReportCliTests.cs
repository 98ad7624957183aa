using Smile.Diagnostics;

namespace Smile.Tests.Cli;

/// <summary>SMILE_WATCH_FINALIZERS (src/Smile.Cli/FinalizerReport.cs): the report goes to the file it names, and a file
/// that cannot be written costs one line on stderr, not the run's exit code.</summary>
public sealed class FinalizerReportCliTests
{
    [Fact]
    public void TheReportGoesToTheNamedFile()
    {
        var dir = Directory.CreateTempSubdirectory("smile-finalizer-report-").FullName;
        try
        {
            var file = Path.Combine(dir, "report.txt");
            var r = SmileProcess.RunWith(new Dictionary<string, string?> { [FinalizerWatch.Variable] = file }, "models");
            Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
            Assert.DoesNotContain(FinalizerWatch.ReportPrefix, r.Stderr, StringComparison.Ordinal);
            var line = Assert.Single(File.ReadAllLines(file));
            Assert.StartsWith(FinalizerWatch.ReportPrefix + "Scalar 0, ", line, StringComparison.Ordinal);
            Assert.Contains("Tensor ", line, StringComparison.Ordinal); // TorchSharp's module constructors leave some
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void AFileThatCannotBeWrittenIsOneLineAndTheRunStillSucceeds()
    {
        var file = Path.Combine(Path.GetTempPath(), $"smile-no-such-dir-{Guid.NewGuid():N}", "report.txt");
        var r = SmileProcess.RunWith(new Dictionary<string, string?> { [FinalizerWatch.Variable] = file }, "models");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"smile: {FinalizerWatch.Variable}: cannot write {file}: ", line, StringComparison.Ordinal);
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Smile.Tests.Cli;

/// <summary>
/// The experiment scripts' bookkeeping without their hours of training: scripts/experiments/run-state.sh tells a
/// finished run from an interrupted one (both write a summary), and fashion_transfer_report.sh turns the runs'
/// summaries into docs/RESULTS.md's table (mean ± sample std, paired differences against l2 and wins, NLL, runs that
/// diverged), from summaries and logs written here with known figures.
/// </summary>
public sealed class ExperimentScriptsTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("smile-experiments-").FullName;
    public void Dispose() => Directory.Delete(_temp, recursive: true);

    /// <summary>Runs <paramref name="script"/> with bash -c in the repository root (BenchTrainCliTests uses it too).</summary>
    internal static (int Exit, string Stdout, string Stderr) Bash(string script, IDictionary<string, string> env)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoRoot.Path };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        foreach (var (k, v) in env) start.Environment[k] = v;
        using var p = Process.Start(start)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout, stderr.Result);
    }

    private void Summary(string name, string method, double top1, double nll, bool interrupted = false)
    {
        Directory.CreateDirectory(Path.Combine(_temp, "runs"));
        var json = JsonSerializer.Serialize(new
        {
            Name = name, Regularizer = method, Architecture = "resnet18", Iterations = 300,
            LastEval = new { Count = 5000, Top1 = top1, Nll = nll }, Interrupted = interrupted,
        }, new JsonSerializerOptions { WriteIndented = true });
        File.WriteAllText(Path.Combine(_temp, "runs", $"{name}_{method}_summary.json"), json);
    }

    private void RunLog(string run, string text) => File.WriteAllText(Path.Combine(_temp, "runs", $"{run}.txt"), text);

    /// <summary>fashion_transfer_report.sh's output lines for the runs written here and <paramref name="methods"/>.</summary>
    private string[] ReportLines(string methods)
    {
        var r = Bash("scripts/experiments/fashion_transfer_report.sh", new Dictionary<string, string> { ["OUT"] = _temp, ["METHODS"] = methods });
        Assert.True(r.Exit == 0, r.Stderr);
        return r.Stdout.Split('\n');
    }

    [Fact]
    public void RunStateTellsAFinishedRunFromAnInterruptedOneAndResumesOnlyWithALastCheckpoint()
    {
        Summary("t20_s1", "l2", 0.8, 0.5);
        Summary("t20_s1", "smile", 0.8, 0.5, interrupted: true);
        File.WriteAllText(Path.Combine(_temp, "runs", "t20_s1_smile_Last.safetensors"), "");
        var r = Bash("""
            source scripts/experiments/run-state.sh
            for run in t20_s1_l2 t20_s1_smile t20_s1_delta; do
              if run_finished "$RUNS" $run; then echo "$run finished"; else echo "$run to run: [$(resume_flags "$RUNS" $run)]"; fi
            done
            """, new Dictionary<string, string> { ["RUNS"] = Path.Combine(_temp, "runs") });
        Assert.True(r.Exit == 0, r.Stderr);
        Assert.Equal("t20_s1_l2 finished\nt20_s1_smile to run: [--resume true]\nt20_s1_delta to run: []\n", r.Stdout);
    }

    [Fact]
    public void TheTransferReportHasMeansStdsPairedDifferencesAndEveryRun()
    {
        // 20 per class, 3 seeds: l2 80/82/84, smile 81/85/83 (paired +1, +3, -1: mean +1.00, 2 of 3), bss 79/81 on seeds 1-2 only (paired -1, -1).
        double[] l2 = [0.80, 0.82, 0.84], smile = [0.81, 0.85, 0.83];
        for (int s = 0; s < 3; s++)
        {
            Summary($"t20_s{s + 1}", "l2", l2[s], 0.5 + 0.1 * s);
            Summary($"t20_s{s + 1}", "smile", smile[s], 0.3);
        }
        Summary("t20_s1", "bss", 0.79, 0.6);
        Summary("t20_s2", "bss", 0.81, 0.6);
        Summary("t20_s3", "bss", 0.99, 0.1, interrupted: true); // an interrupted run does not count
        RunLog("t20_s1_lwf", "... error: the loss became NaN at iteration 6 (main NaN)\n"); // no summary
        RunLog("t20_s2_lwf", "... Step[0000/0300] lwf loss 14.2\n"); // still running
        var lines = ReportLines("l2 smile bss lwf");
        Assert.Contains("20 images per class (seeds 1, 2, 3):", lines);
        Assert.Contains("| l2 | 82.00 ± 2.00 | — | — | 0.600 ± 0.100 | 3 |", lines);
        Assert.Contains("| smile | 83.00 ± 2.00 | +1.00 | 2 of 3 | 0.300 ± 0.000 | 3 |", lines);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"| bss | 80.00 ± {Math.Sqrt(2):F2} | -1.00 | 0 of 2 | 0.600 ± 0.000 | 2 |"), lines);
        Assert.Contains("| lwf | — | — | — | — | 0 (diverged at seed 1) |", lines);
        Assert.Contains("| run | l2 | smile | bss | lwf |", lines);
        Assert.Contains("| 20/class, seed 1 | 80.00 (0.500) | 81.00 (0.300) | 79.00 (0.600) | diverged |", lines);
        Assert.Contains("| 20/class, seed 3 | 84.00 (0.700) | 83.00 (0.300) | — | — |", lines);
    }

    [Fact]
    public void AMethodWithItsOwnSettingsIsItsOwnRowBesideTheDefaultRun()
    {
        // The experiment script names a run with settings after them: t20_s1_delta_alpha0.001_delta beside t20_s1_delta.
        for (int s = 1; s <= 2; s++) Summary($"t20_s{s}", "l2", 0.80, 0.5);
        Summary("t20_s1_delta_alpha0.001", "delta", 0.83, 0.4);
        Summary("t20_s2_delta_alpha0.001", "delta", 0.79, 0.4);
        Summary("t20_s1_delta_alpha0.001_delta_beta0", "delta", 0.70, 0.9); // another setting: its own row, not listed here
        RunLog("t20_s1_delta", "... the loss became Infinity at iteration 6\n");
        RunLog("t20_s2_delta", "... the loss became NaN at iteration 5\n");
        var lines = ReportLines("l2 delta delta:delta_alpha=0.001");
        Assert.Contains("| delta | — | — | — | — | 0 (diverged at seeds 1, 2) |", lines);
        Assert.Contains("| delta (delta_alpha=0.001) | 81.00 ± 2.83 | +1.00 | 1 of 2 | 0.400 ± 0.000 | 2 |", lines);
        Assert.Contains("| run | l2 | delta | delta (delta_alpha=0.001) |", lines);
        Assert.Contains("| 20/class, seed 1 | 80.00 (0.500) | diverged | 83.00 (0.400) |", lines);

        // The experiment script's side of the naming: the same tag, and the settings as flags.
        var tag = Bash("source scripts/experiments/run-state.sh; settings_tag delta_alpha=0.001,delta_beta=0", new Dictionary<string, string>());
        Assert.Equal("delta_alpha0.001_delta_beta0\n", tag.Stdout);
    }
}

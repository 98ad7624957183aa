using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Smile.Tests.Cli;

/// <summary>
/// `smile sweep` end to end on the tiny task of <see cref="TinyTransferFixture"/>: 2 methods x 2 seeds of 4 iterations,
/// planned, written as a Slurm script, one run stopped by hand, run here two at a time (resuming the stopped one),
/// skipped when run again, and tabulated; and a run that fails, retried once and reported with its error.
/// </summary>
public sealed class SweepCliTests(TinyTransferFixture data) : IClassFixture<TinyTransferFixture>
{
    private string Grid(string name, string axes)
    {
        var folder = Directory.CreateDirectory(Path.Combine(data.Root, "sweep-" + name)).FullName;
        var file = Path.Combine(folder, name + ".json");
        File.WriteAllText(file, $$"""
            { "base": { "train_dir": {{JsonSerializer.Serialize(data.Train)}}, "eval_dir": {{JsonSerializer.Serialize(data.Test)}},
                        "pretrained": {{JsonSerializer.Serialize(data.Source)}}, "model_arch": "resnet18", "image_size": 32,
                        "batch_size": 6, "batch_size_eval": 4, "max_iters": 4, "eval_frequency": 2, "print_frequency": 2,
                        "workers": 1, "device": "cpu" },
              "axes": {{axes}},
              "slurm": { "partition": "gpu", "gres": "gpu:1" } }
            """);
        return file;
    }

    private static void AssertOk(SmileProcess.Result r, int code = 0) => Assert.True(r.ExitCode == code, r.Describe() + "\n" + r.Stdout + r.Stderr);

    private static readonly string[] Runs = ["regularizer-l2_seed-1", "regularizer-l2_seed-2", "regularizer-smile_seed-1", "regularizer-smile_seed-2"];

    [Fact]
    public void ASweepRunsHereResumesSkipsAndReports()
    {
        var grid = Grid("tiny", """{ "regularizer": ["l2", "smile"], "seed": [1, 2] }""");
        var output = Path.Combine(Path.GetDirectoryName(grid)!, "tiny");
        var plan = SmileProcess.Run("sweep", "plan", grid);
        AssertOk(plan);
        Assert.Equal(Runs, plan.Stdout.Split('\n').Skip(1).Where(l => l.Length > 0).Select(l => l.Trim().Split(' ')[0]));
        Assert.False(Directory.Exists(output)); // a plan writes nothing

        // The Slurm script (not submitted): one array task per run, stopped before the limit, requeued on 143.
        AssertOk(SmileProcess.Run("sweep", "run", grid, "--backend", "slurm", "--submit", "no", "--time", "01:30:00", "--max_parallel", "2"));
        var script = File.ReadAllText(Path.Combine(output, "sweep.sbatch"));
        foreach (var line in new[] { "#SBATCH --array=0-3%2", "#SBATCH --signal=B:TERM@120", "#SBATCH --requeue", "#SBATCH --time=01:30:00",
                     "#SBATCH --partition=gpu", "#SBATCH --gres=gpu:1", "#SBATCH --job-name=smile-tiny", $"#SBATCH --output={output}/slurm/%A_%a.out" })
            Assert.Contains(line + "\n", script);
        Assert.Contains("runs=(\n" + string.Concat(Runs.Select(r => $"  '{r}'\n")) + ")\n", script);
        Assert.Contains("task=\"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"\n", script);
        Assert.Contains("  scontrol requeue \"$task\"\n", script);
        Assert.Contains($"finetune --config \"$dir/run.json\" \"${{resume[@]}}\"", script);
        AssertOk(Bash("-n", Path.Combine(output, "sweep.sbatch"))); // valid bash

        // Every run's config is a finetune config with its own folder as --save.
        var first = Path.Combine(output, Runs[0]);
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(first, "run.json"))))
        {
            Assert.Equal(first, config.RootElement.GetProperty("save").GetString());
            Assert.Equal(Runs[0], config.RootElement.GetProperty("name").GetString());
            Assert.Equal("l2", config.RootElement.GetProperty("regularizer").GetString());
            Assert.Equal(1, config.RootElement.GetProperty("seed").GetInt32());
        }

        // One run stopped halfway by hand: status says so, and the sweep resumes it.
        AssertOk(SmileProcess.Run("finetune", "--config", Path.Combine(first, "run.json"), "--stop_after", "2"), 130);
        var status = SmileProcess.Run("sweep", "status", grid);
        AssertOk(status);
        Assert.Matches($@"{Runs[0]}\s+stopped\s+has _Last", status.Stdout);
        Assert.Matches($@"{Runs[1]}\s+not started", status.Stdout);

        var run = SmileProcess.Run("sweep", "run", grid, "--slots", "2");
        AssertOk(run);
        Assert.Contains($"{Runs[0]}: resuming", run.Stdout);
        foreach (var r in Runs.Skip(1)) Assert.Contains($"{r}: starting", run.Stdout);
        Assert.Contains("all 4 runs done", run.Stdout);

        // Again: nothing to do, nothing rewritten.
        var summaries = Runs.Select(r => Directory.GetFiles(Path.Combine(output, r), "*_summary.json").Single()).ToList();
        var written = summaries.Select(File.GetLastWriteTimeUtc).ToList();
        var again = SmileProcess.Run("sweep", "run", grid, "--slots", "2");
        AssertOk(again);
        foreach (var r in Runs) Assert.Contains($"{r}: done, skipped", again.Stdout);
        Assert.Equal(written, summaries.Select(File.GetLastWriteTimeUtc));
        Assert.Contains("4 done", SmileProcess.Run("sweep", "status", grid).Stdout);

        // The Slurm task of a finished run does nothing.
        var task = Bash(Path.Combine(output, "sweep.sbatch"), ("SLURM_ARRAY_TASK_ID", "2"));
        AssertOk(task);
        Assert.Equal($"{Runs[2]}: done", task.Stdout.Trim());

        // The table: every cell the mean ± std of the runs' best top-1, and smile's paired difference against l2.
        double Best(string r) => JsonDocument.Parse(File.ReadAllText(summaries[Array.IndexOf(Runs, r)])).RootElement.GetProperty("BestAccuracy").GetDouble();
        string Cell(double a, double b, string format = "F2") =>
            $"{(50 * (a + b)).ToString(format, CultureInfo.InvariantCulture)} ± {(100 * Math.Abs(a - b) / Math.Sqrt(2)).ToString("F2", CultureInfo.InvariantCulture)}";
        var report = SmileProcess.Run("sweep", "report", grid, "--baseline", "l2");
        AssertOk(report);
        Assert.Equal(string.Join('\n',
            "| regularizer | best top-1 (%) |",
            "|---|---:|",
            $"| l2 | {Cell(Best(Runs[0]), Best(Runs[1]))} |",
            $"| smile | {Cell(Best(Runs[2]), Best(Runs[3]))} |",
            "",
            "| regularizer − l2 (paired) | best top-1 (%) |",
            "|---|---:|",
            $"| smile | {Cell(Best(Runs[2]) - Best(Runs[0]), Best(Runs[3]) - Best(Runs[1]), "+0.00;-0.00;0.00")} |"), report.Stdout.Trim());
        var csv = SmileProcess.Run("sweep", "report", grid, "--baseline", "l2", "--csv").Stdout.Trim().Split('\n');
        Assert.Equal("regularizer,data,mean_best_top1,std_best_top1,runs,missing,mean_diff,std_diff,paired_runs", csv[0]);
        Assert.StartsWith("smile,,", csv[2]);
        Assert.EndsWith(",2,0," + string.Join(',', csv[2].Split(',')[6..8]) + ",2", csv[2]);
        Assert.Equal(0.5 * (Best(Runs[0]) + Best(Runs[1])), double.Parse(csv[1].Split(',')[2], CultureInfo.InvariantCulture), 12);
    }

    /// <summary>The Slurm task's stop before a time limit, without Slurm: SIGTERM to the script (as --signal=B:TERM
    /// sends it) reaches smile, which writes _Last and exits 143, and the task requeues itself (a stand-in scontrol
    /// records the call); the task run again resumes from _Last; a task stopped by scancel (squeue no longer says
    /// RUNNING) is not requeued.</summary>
    [Fact]
    public void ASlurmTaskStoppedBySigtermRequeuesItselfAndResumes()
    {
        var grid = Grid("term", """{ "max_iters": [100000] }""");
        var output = Path.Combine(Path.GetDirectoryName(grid)!, "term");
        AssertOk(SmileProcess.Run("sweep", "run", grid, "--backend", "slurm", "--submit", "no"));
        var fakeBin = Directory.CreateDirectory(Path.Combine(data.Root, "fake-slurm")).FullName;
        var calls = Path.Combine(fakeBin, "calls.txt");
        File.WriteAllText(Path.Combine(fakeBin, "scontrol"), $"#!/bin/sh\necho \"$@\" >> '{calls}'\n");
        // squeue reports the task's state from a file: RUNNING when stopped by --signal, CANCELLED after scancel.
        var state = Path.Combine(fakeBin, "state.txt");
        File.WriteAllText(Path.Combine(fakeBin, "squeue"), $"#!/bin/sh\ncat '{state}'\n");
        foreach (var tool in new[] { "scontrol", "squeue" })
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path.Combine(fakeBin, tool), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var folder = Path.Combine(output, "max-iters-100000");
        var log = Path.Combine(folder, "max-iters-100000_smile.txt");

        for (int session = 1; session <= 3; session++)
        {
            bool cancelled = session == 3;
            File.WriteAllText(state, cancelled ? "CANCELLED\n" : "RUNNING\n");
            var task = Bash(["--", Path.Combine(output, "sweep.sbatch")],
                [("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_JOB_ID", "77"), ("PATH", fakeBin + ":" + Environment.GetEnvironmentVariable("PATH"))],
                process =>
                {
                    // Training is under way (its SIGTERM handler set) once this session has logged a step.
                    var deadline = DateTime.UtcNow.AddMinutes(3);
                    while (DateTime.UtcNow < deadline && (!File.Exists(log) || Sessions(log).Count < session || !Sessions(log)[^1].Contains("Step[")))
                        Thread.Sleep(200);
                    Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
                });
            Assert.True(task.ExitCode == 143, task.Describe() + task.Stdout + task.Stderr);
            Assert.Equal(cancelled ? "" : "max-iters-100000: stopped before the time limit, requeued to resume", task.Stdout.Trim());
            Assert.Equal("143", File.ReadAllText(Path.Combine(folder, "exit")).Trim());
            Assert.Equal(Enumerable.Repeat("requeue 77_0", Math.Min(session, 2)), File.ReadAllLines(calls)); // a cancelled task stays cancelled
            Assert.Matches(@"stopped\s+has _Last", SmileProcess.Run("sweep", "status", grid).Stdout);
        }
        // Each later session started where the one before stopped.
        var starts = File.ReadAllLines(log).Where(l => l.Contains("iterations from ")).ToList();
        Assert.Equal(3, starts.Count);
        Assert.Contains("iterations from 0,", starts[0]);
        Assert.DoesNotContain("iterations from 0,", starts[1]);
        Assert.DoesNotContain("iterations from 0,", starts[2]);
    }

    /// <summary>The run log split at each session's first line (the argument line, which starts with --name).</summary>
    private static List<string> Sessions(string log)
    {
        var text = File.ReadAllText(log);
        return text.Split(" --name ").Skip(1).ToList();
    }

    [Fact]
    public void AFailingRunIsTriedTwiceThenReported()
    {
        var grid = Grid("broken", """{ "data": { "ok": {}, "missing": { "train_dir": "no/such/folder" } } }""");
        var run = SmileProcess.Run("sweep", "run", grid);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("data-missing: failed with exit 2", run.Stdout);
        Assert.Contains("data-missing: starting (second try)", run.Stdout);
        Assert.Contains("1 of 2 runs failed twice: data-missing", run.Stdout);
        var status = SmileProcess.Run("sweep", "status", grid);
        AssertOk(status);
        Assert.Matches(@"data-ok\s+done\s+best top-1", status.Stdout);
        Assert.Matches(@"data-missing\s+failed\s+exit 2: error: --train_dir: folder not found: .*no/such/folder", status.Stdout);
        // The report leaves the failed run out and says so.
        var report = SmileProcess.Run("sweep", "report", grid, "--method_axis", "data");
        AssertOk(report);
        Assert.Contains("| missing | - (0/1) |", report.Stdout);
    }

    [Fact]
    public void GridKeysMustBeFinetuneFlags()
    {
        var grid = Grid("typo", """{ "learning_rate": [0.1, 0.01] }""");
        var r = SmileProcess.Run("sweep", "plan", grid);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: {grid}: unknown key 'learning_rate' (not a flag of `smile finetune`)", r.Stderr.Trim());
        var owned = Grid("owned", """{ "save": ["a", "b"] }""");
        Assert.Contains("key 'save' is set by the sweep", SmileProcess.Run("sweep", "plan", owned).Stderr);
    }

    /// <summary>scripts/reproduce/comparison.json, the paper's comparison: 3 data sets x 7 methods x 3 seeds, each
    /// method one that Smile has, each run the reference's setting.</summary>
    [Fact]
    public void ThePapersComparisonGridPlansEveryRunWithKnownMethods()
    {
        var grid = Path.Combine(RepoRoot.Path, "scripts", "reproduce", "comparison.json");
        var plan = SmileProcess.Run("sweep", "plan", grid);
        AssertOk(plan);
        var runs = plan.Stdout.Split('\n').Skip(1).Where(l => l.Length > 0).Select(l => l.Trim().Split(' ')[0]).ToList();
        Assert.Equal(63, runs.Count);
        Assert.Equal(63, runs.Distinct().Count());
        var methods = runs.Select(r => System.Text.RegularExpressions.Regex.Match(r, "regularizer-([a-z0-9]+)_").Groups[1].Value).Distinct().ToList();
        Assert.Equal(["l2", "l2sp", "delta", "bss", "cotuning", "mixup", "smile"], methods);
        Assert.All(methods, m => Assert.Contains(m, Smile.Methods.Regularizers.Names));
        Assert.Equal(["cub", "cars", "aircraft"], runs.Select(r => r.Split('_')[0]["data-".Length..]).Distinct());
        using var config = JsonDocument.Parse(File.ReadAllText(grid, System.Text.Encoding.UTF8), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
        var settings = config.RootElement.GetProperty("base");
        Assert.Equal("resnet50", settings.GetProperty("model_arch").GetString());
        Assert.Equal(9000, settings.GetProperty("max_iters").GetInt32());
        Assert.Equal(48, settings.GetProperty("batch_size").GetInt32());
        Assert.Equal(224, settings.GetProperty("image_size").GetInt32());
    }

    private static SmileProcess.Result Bash(string script, params (string Name, string Value)[] environment) => Bash(["--", script], environment);

    private static SmileProcess.Result Bash(string flag, string script) => Bash([flag, script], []);

    private static SmileProcess.Result Bash(string[] args, (string Name, string Value)[] environment, Action<Process>? watch = null)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment) start.Environment[name] = value;
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        watch?.Invoke(p);
        p.WaitForExit();
        return new SmileProcess.Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}

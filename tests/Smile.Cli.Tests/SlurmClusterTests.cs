using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Smile.Tests.Cli;

/// <summary>
/// `smile sweep` on a real Slurm: a single-node cluster started by scripts/slurm/local-cluster.sh (Debian's slurm-wlm
/// and munge, installed by the script when missing; it needs root), a grid of tiny Fashion-MNIST fine-tunes (2
/// methods x 2 seeds) submitted as one job array, one task requeued by `scontrol requeue` in the middle of its run.
/// Every run must finish; the requeued one must have resumed from its _Last (its second session starts after
/// iteration 0) and end with the weights of the same run done without a break; `smile sweep status` must say done
/// for all, and `smile sweep report` must have every cell. The cluster is stopped by its processes' ids at the end;
/// the folder of a failed test is kept (its path is in the test's temporary folder, smile-slurm-*).
/// </summary>
public sealed class SlurmClusterTests
{
    private const int Iterations = 40;
    private static readonly string[] Runs = ["regularizer-l2_seed-1", "regularizer-l2_seed-2", "regularizer-smile_seed-1", "regularizer-smile_seed-2"];

    [Fact]
    public void AGridRunsAsAJobArrayAndARequeuedTaskResumesToTheSameWeights()
    {
        var root = Directory.CreateTempSubdirectory("smile-slurm-").FullName;
        bool passed = false;
        var cluster = Path.Combine(root, "cluster");
        var start = Shell(ClusterScript, "start", cluster);
        try
        {
            Assert.True(start.ExitCode == 0, "the local Slurm did not start: " + start.Stdout + start.Stderr);
            var slurm = new Dictionary<string, string?> { ["SLURM_CONF"] = Path.Combine(cluster, "slurm.conf") };
            var grid = WriteGrid(root);
            var output = Path.Combine(root, "fashion");

            var submitted = SmileProcess.RunWith(slurm, "sweep", "run", grid, "--backend", "slurm", "--cpus_per_task", "1");
            AssertOk(submitted);
            string job = Regex.Match(submitted.Stdout, @"submitted job (\d+)").Groups[1].Value;
            Assert.False(string.IsNullOrEmpty(job), submitted.Stdout);

            // Requeue task 0 once it has logged iteration 8 of its 40: Slurm sends it SIGTERM, smile writes _Last and
            // exits, and the task goes back to the queue (held until its begin time, which is brought forward).
            var requeued = Path.Combine(output, Runs[0]);
            var log = Path.Combine(requeued, Runs[0] + "_l2.txt");
            WaitFor(() => LastLoggedStep(log) >= 8 || File.Exists(Path.Combine(requeued, "exit")), TimeSpan.FromMinutes(8),
                () => $"task 0 never reached iteration 8: {Tail(log)}{Tail(Path.Combine(requeued, "sweep.log"))}");
            Assert.False(File.Exists(Path.Combine(requeued, "exit")), "task 0 ended before its requeue: "
                + Tail(Path.Combine(requeued, "exit")) + Tail(Path.Combine(requeued, "sweep.log")) + Tail(Path.Combine(output, "slurm", $"{job}_0.out")));
            string task = $"{job}_0";
            AssertOk(Slurm(slurm, "scontrol", "requeue", task), "scontrol requeue");
            WaitFor(() => Slurm(slurm, "squeue", "-h", "-j", task, "-o", "%T").Stdout.Trim() == "PENDING", TimeSpan.FromMinutes(2),
                () => $"task 0 not pending after requeue: {Slurm(slurm, "squeue", "-h", "-j", task, "-o", "%T %r").Stdout}");
            Assert.True(LastLoggedStep(log) < Iterations, "task 0 had finished before the requeue reached it");
            Slurm(slurm, "scontrol", "update", $"JobId={task}", "StartTime=now");
            Slurm(slurm, "scontrol", "release", task);

            WaitFor(() => Slurm(slurm, "squeue", "-h", "-j", job).Stdout.Trim().Length == 0, TimeSpan.FromMinutes(15),
                () => "the array did not finish: " + Slurm(slurm, "squeue", "-j", job).Stdout
                      + string.Concat(Runs.Select(r => Tail(Path.Combine(output, r, "sweep.log")))));

            var status = SmileProcess.Run("sweep", "status", grid);
            AssertOk(status);
            foreach (var run in Runs) Assert.Matches($@"{run}\s+done", status.Stdout);

            // The requeued run: two sessions, the second resumed after iteration 0, and the weights of a run without a break.
            var starts = File.ReadAllLines(log).Where(l => l.Contains(" iterations from ", StringComparison.Ordinal)).ToList();
            Assert.True(starts.Count == 2, string.Join('\n', starts));
            Assert.Contains(" iterations from 0,", starts[0]);
            int resumedAt = int.Parse(Regex.Match(starts[1], @" iterations from (\d+),").Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.InRange(resumedAt, 8, Iterations - 1);
            var straight = Path.Combine(root, "straight");
            AssertOk(SmileProcess.Run("finetune", "--config", Path.Combine(requeued, "run.json"), "--save", straight, "--log_dir", Path.Combine(straight, "tb")));
            CheckpointAssert.SameWeights(Path.Combine(straight, Runs[0] + "_l2_Last.safetensors"), Path.Combine(requeued, Runs[0] + "_l2_Last.safetensors"));

            // The table has every cell: both methods with 2 of 2 runs, and smile's paired difference against l2.
            var report = SmileProcess.Run("sweep", "report", grid, "--baseline", "l2", "--csv");
            AssertOk(report);
            var rows = report.Stdout.Trim().Split('\n');
            Assert.Equal(3, rows.Length);
            Assert.StartsWith("l2,,", rows[1]);
            Assert.StartsWith("smile,,", rows[2]);
            foreach (var row in rows.Skip(1))
            {
                var cells = row.Split(',');
                Assert.Equal("2", cells[4]); // runs
                Assert.Equal("0", cells[5]); // missing
                Assert.True(double.TryParse(cells[2], CultureInfo.InvariantCulture, out _), row);
            }
            Assert.Equal("2", rows[2].Split(',')[8]); // paired runs
            passed = true;
        }
        finally
        {
            var stop = Shell(ClusterScript, "stop", cluster);
            Assert.True(stop.ExitCode == 0, "the local Slurm did not stop: " + stop.Stdout + stop.Stderr);
            foreach (var pidFile in new[] { "slurmctld.pid", "slurmd.pid" })
                Assert.False(File.Exists(Path.Combine(cluster, pidFile)), pidFile + " left behind");
            if (passed) Directory.Delete(root, recursive: true); // else kept, to read the runs' and the cluster's logs
        }
    }

    private static string ClusterScript => Path.Combine(RepoRoot.Path, "scripts", "slurm", "local-cluster.sh");

    /// <summary>Real Fashion-MNIST (Debian's dataset-fashion-mnist), 3 classes, 8 training and 5 test images each,
    /// a seeded ResNet-18 as the pre-trained source, and the grid: l2 and smile x seeds 1 and 2, 40 iterations.</summary>
    private static string WriteGrid(string root)
    {
        var data = Path.Combine(root, "data");
        AssertOk(SmileProcess.Run("prepare", "fashion-mnist", "--out", data, "--classes", "5,7,9", "--per_class", "8", "--test_per_class", "5", "--seed", "1"));
        var source = Path.Combine(root, "source.safetensors");
        AssertOk(SmileProcess.Run("init", "--model_arch", "resnet18", "--num_classes", "10", "--output", source, "--seed", "1"));
        var grid = Path.Combine(root, "fashion.json");
        File.WriteAllText(grid, $$"""
            { "base": { "train_dir": {{JsonSerializer.Serialize(Path.Combine(data, "train"))}}, "eval_dir": {{JsonSerializer.Serialize(Path.Combine(data, "test"))}},
                        "pretrained": {{JsonSerializer.Serialize(source)}}, "model_arch": "resnet18", "image_size": 32,
                        "batch_size": 8, "batch_size_eval": 15, "max_iters": {{Iterations}}, "plain_iters": 10, "eval_frequency": 20,
                        "print_frequency": 2, "workers": 1, "device": "cpu" },
              "axes": { "regularizer": ["l2", "smile"], "seed": [1, 2] } }
            """);
        return grid;
    }

    /// <summary>The iteration of the last "Step[i/n]" line of a run log, or -1.</summary>
    private static int LastLoggedStep(string log)
    {
        if (!File.Exists(log)) return -1;
        string text;
        using (var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        using (var reader = new StreamReader(stream))
            text = reader.ReadToEnd();
        var steps = Regex.Matches(text, @"Step\[(\d+)/\d+\]");
        return steps.Count == 0 ? -1 : int.Parse(steps[^1].Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static string Tail(string file) => File.Exists(file) ? "\n" + string.Join('\n', File.ReadLines(file).TakeLast(10)) : $"\n({file} missing)";

    private static void WaitFor(Func<bool> condition, TimeSpan limit, Func<string> failure)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail(failure());
            Thread.Sleep(250);
        }
    }

    private static void AssertOk(SmileProcess.Result r, string what = "smile") =>
        Assert.True(r.ExitCode == 0, $"{what}: {r.Describe()}\n{r.Stdout}{r.Stderr}");

    private static SmileProcess.Result Slurm(IReadOnlyDictionary<string, string?> environment, string tool, params string[] args)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment) start.Environment[name] = value;
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return new SmileProcess.Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    private static SmileProcess.Result Shell(string script, params string[] args) => Slurm(new Dictionary<string, string?>(), script, args);
}

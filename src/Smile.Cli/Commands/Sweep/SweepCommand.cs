using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Smile.Sweeps;

namespace Smile.Cli.Commands.Sweep;

/// <summary>
/// `smile sweep plan|run|status|report GRID`: a grid of `smile finetune` runs (SweepGrid.cs) planned, run here or on
/// Slurm, followed and tabulated, all from the grid file and the runs' own folders (SweepRunState.cs).
/// </summary>
internal static class SweepCommand
{
    public static Command Create()
    {
        var command = new Command("sweep", "A grid of finetune runs (a JSON grid file: base settings, axes, exclusions): plan, run (here or on Slurm), status, report.");
        command.Subcommands.Add(Plan());
        command.Subcommands.Add(Run());
        command.Subcommands.Add(Status());
        command.Subcommands.Add(Report());
        return command;
    }

    private static Argument<string> GridArgument() => new("grid") { Description = "The sweep's grid file (JSON)." };

    private static Command Plan()
    {
        var grid = GridArgument();
        var command = new Command("plan", "List the grid's runs (name, axis values, folder) without writing or running anything (a dry run).") { grid };
        command.SetAction(parse =>
        {
            var g = SweepPlan.Load(parse.GetValue(grid)!);
            Console.WriteLine($"{g.Runs.Count} runs of {g.File} into {g.Output}:");
            foreach (var run in g.Runs)
                Console.WriteLine($"  {run.Name,-40} {string.Join(" ", run.AxisValues.Select(a => $"{a.Key}={a.Value}"))}");
            return 0;
        });
        return command;
    }

    private static Command Run()
    {
        var grid = GridArgument();
        var backend = Flags.Make("backend", "local (child processes on this machine) or slurm (one sbatch job array).", "local");
        var slots = Flags.Make("slots", "local: runs at a time.", 1);
        var submit = Flags.Make("submit", "slurm: yes (sbatch the script, print the job id) or no (only write it).", "yes");
        var partition = Flags.Optional<string>("partition", "slurm: the partition (default: the grid's slurm.partition, else the cluster's).");
        var time = Flags.Optional<string>("time", "slurm: each task's time limit, e.g. 04:00:00 (the run is stopped 120 s before, then requeued and resumed).");
        var cpus = Flags.Optional<int?>("cpus_per_task", "slurm: CPUs per task.");
        var gres = Flags.Optional<string>("gres", "slurm: generic resources per task, e.g. gpu:1.");
        var mem = Flags.Optional<string>("mem", "slurm: memory per task, e.g. 32G.");
        var maxParallel = Flags.Optional<int?>("max_parallel", "slurm: at most this many array tasks at once (--array=...%N).");
        var account = Flags.Optional<string>("account", "slurm: the account to charge.");
        var command = new Command("run", "Run the grid's runs that are not finished: resume the stopped ones, retry a failed one once.")
            { grid, backend, slots, submit, partition, time, cpus, gres, mem, maxParallel, account };
        command.SetAction(parse =>
        {
            var g = SweepPlan.Load(parse.GetValue(grid)!);
            string kind = parse.GetValue(backend)!;
            Flags.Require(kind is "local" or "slurm", "backend", $"must be local or slurm, not '{kind}'");
            string submitting = parse.GetValue(submit)!;
            Flags.Require(submitting is "yes" or "no", "submit", $"must be yes or no, not '{submitting}'");
            int n = parse.GetValue(slots);
            Flags.Require(n >= 1, "slots", "must be at least 1");
            SweepPlan.WriteConfigs(g);
            if (kind == "local")
            {
                var local = new LocalBackend(g, n, Console.Out);
                var failed = local.Run();
                if (local.Stopped) return TrainingRun.Terminated;
                if (failed.Count == 0) { Console.WriteLine($"all {g.Runs.Count} runs done"); return 0; }
                Console.WriteLine($"{failed.Count} of {g.Runs.Count} runs failed twice: {string.Join(", ", failed)} (see `smile sweep status`)");
                return 1;
            }
            var resources = Resources(g, parse.GetValue(partition), parse.GetValue(time), parse.GetValue(cpus), parse.GetValue(gres), parse.GetValue(mem), parse.GetValue(maxParallel), parse.GetValue(account));
            var script = Path.Combine(g.Output, SlurmScript.FileName);
            Directory.CreateDirectory(Path.Combine(g.Output, "slurm"));
            Smile.IO.AtomicFile.WriteAllBytes(script, System.Text.Encoding.UTF8.GetBytes(SlurmScript.Write(g, resources, SweepPlan.SmileExecutable())));
            Console.WriteLine($"wrote {script} ({g.Runs.Count} array tasks)");
            if (submitting == "no") return 0;
            Console.WriteLine($"submitted job {Submit(script)}");
            return 0;
        });
        return command;
    }

    /// <summary>The grid's "slurm" settings, each overridden by its flag.</summary>
    private static SlurmResources Resources(SweepGrid g, string? partition, string? time, int? cpus, string? gres, string? mem, int? maxParallel, string? account)
    {
        string[] known = ["partition", "time", "cpus_per_task", "gres", "mem", "max_parallel", "account"];
        foreach (var key in g.Slurm.Keys.Where(k => !known.Contains(k)))
            throw new UsageException($"{g.File}: unknown key 'slurm.{key}' (slurm takes {string.Join(", ", known)})");
        string? Text(string key) => g.Slurm.TryGetValue(key, out var v)
            ? v.ValueKind == JsonValueKind.String ? v.GetString() : throw new UsageException($"{g.File}: key 'slurm.{key}' must be a string") : null;
        int? Number(string key) => g.Slurm.TryGetValue(key, out var v)
            ? v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) && i > 0 ? i : throw new UsageException($"{g.File}: key 'slurm.{key}' must be a positive whole number") : null;
        Flags.Require(cpus is null or > 0, "cpus_per_task", "must be at least 1");
        Flags.Require(maxParallel is null or > 0, "max_parallel", "must be at least 1");
        return new SlurmResources(partition ?? Text("partition"), time ?? Text("time"), cpus ?? Number("cpus_per_task"), gres ?? Text("gres"),
            mem ?? Text("mem"), maxParallel ?? Number("max_parallel"), account ?? Text("account"));
    }

    private static string Submit(string script)
    {
        var start = new ProcessStartInfo("sbatch") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("--parsable");
        start.ArgumentList.Add(script);
        Process process;
        try { process = Process.Start(start)!; }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new UsageException($"--submit: sbatch not found; the script is {script} (submit it on the cluster, or give --submit no)");
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEnd();
            var stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0) throw new UsageException($"--submit: sbatch {script} failed: {stderr.Trim()}");
            return stdout.Trim().Split(';')[0];
        }
    }

    private static Command Status()
    {
        var grid = GridArgument();
        var command = new Command("status", "Each run's state from its own folder: done, running, stopped (resumable), failed (with its last error line), not started.") { grid };
        command.SetAction(parse =>
        {
            var g = SweepPlan.Load(parse.GetValue(grid)!);
            var states = g.Runs.Select(r => (Run: r, State: SweepRunState.Read(SweepPlan.Folder(g, r)))).ToList();
            foreach (var (run, state) in states)
            {
                string detail = state.Status switch
                {
                    SweepRunStatus.Done when SweepRunState.ReadSummary(state.Summary!) is { } s => $"best top-1 {100 * s.BestAccuracy:F2} at {s.BestIteration}",
                    SweepRunStatus.Failed => $"exit {state.ExitCode}{(state.ErrorLine is { } e ? $": {e}" : "")}",
                    SweepRunStatus.Stopped => "has _Last: `smile sweep run` resumes it",
                    _ => "",
                };
                Console.WriteLine($"{run.Name,-40} {Word(state.Status),-11} {detail}".TrimEnd());
            }
            Console.WriteLine(string.Join(", ", states.GroupBy(s => s.State.Status).OrderBy(x => x.Key).Select(x => $"{x.Count()} {Word(x.Key)}")));
            return 0;
        });
        return command;
    }

    private static string Word(SweepRunStatus status) => status switch
    {
        SweepRunStatus.NotStarted => "not started",
        _ => status.ToString().ToLowerInvariant(),
    };

    private static Command Report()
    {
        var grid = GridArgument();
        var methodAxis = Flags.Make("method_axis", "The axis whose values are the table's rows.", "regularizer");
        var dataAxis = Flags.Optional<string>("data_axis", "The axis whose values are the columns (default: the axis named data or dataset, if any).");
        var baseline = Flags.Optional<string>("baseline", "A value of the method axis: add each method's paired difference against it (same values on the other axes, e.g. seeds).");
        var csv = Flags.Make("csv", "CSV (one line per method and data set, top-1 as fractions) instead of Markdown.", false);
        var command = new Command("report", "The finished runs as a table: methods x data sets, mean ± std of the best eval top-1 over the other axes (seeds).") { grid, methodAxis, dataAxis, baseline, csv };
        command.SetAction(parse =>
        {
            var g = SweepPlan.Load(parse.GetValue(grid)!);
            string method = parse.GetValue(methodAxis)!;
            Flags.Require(g.Axes.Contains(method), "method_axis", $"{g.File} has no axis '{method}' (axes: {string.Join(", ", g.Axes)})");
            string? data = parse.GetValue(dataAxis) ?? g.Axes.FirstOrDefault(a => a is "data" or "dataset" && a != method);
            Flags.Require(data is null || (g.Axes.Contains(data) && data != method), "data_axis", $"{g.File} has no other axis '{data}' (axes: {string.Join(", ", g.Axes)})");
            string? b = parse.GetValue(baseline);
            Flags.Require(b is null || g.Runs.Any(r => r.ValueOf(method) == b), "baseline", $"'{b}' is not a value of axis '{method}'");
            var table = SweepTable.Build(g, method, data, b);
            Console.WriteLine(parse.GetValue(csv) ? table.Csv() : table.Markdown(b));
            return 0;
        });
        return command;
    }
}

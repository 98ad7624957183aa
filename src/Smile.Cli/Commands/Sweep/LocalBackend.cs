using System.Diagnostics;
using Smile.Sweeps;

namespace Smile.Cli.Commands.Sweep;

/// <summary>
/// `smile sweep run --backend local`: the grid's runs on this machine, <c>slots</c> at a time, each a child
/// `smile finetune --config {run}/run.json` (with --resume when it has a _Last), started in the grid file's folder, its
/// output appended to {run}/sweep.log and its exit code written to {run}/exit. A finished run is skipped, a run
/// another process holds is left to it, a failed run is tried once more (resuming when it got as far as a _Last);
/// SIGTERM or Ctrl-C to the sweep is passed on to the running children (they write _Last) and nothing new starts.
/// </summary>
internal sealed class LocalBackend(SweepGrid grid, int slots, TextWriter output)
{
    private readonly object gate = new();
    private readonly List<Process> running = [];
    private volatile bool stopping;

    /// <summary>Runs the grid; the runs that failed twice, by name.</summary>
    public IReadOnlyList<string> Run()
    {
        var failed = new List<string>();
        using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; Stop(); });
        ConsoleCancelEventHandler onCtrlC = (_, e) => { e.Cancel = true; Stop(); };
        Console.CancelKeyPress += onCtrlC;
        try
        {
            var options = new ParallelOptions { MaxDegreeOfParallelism = slots };
            Parallel.ForEach(grid.Runs, options, run =>
            {
                if (stopping) return;
                string? outcome = RunWithRetry(run);
                if (outcome is not null) lock (failed) failed.Add(outcome);
            });
        }
        finally { Console.CancelKeyPress -= onCtrlC; }
        return failed.Order(StringComparer.Ordinal).ToList();
    }

    public bool Stopped => stopping;

    private string? RunWithRetry(SweepRun run)
    {
        var folder = SweepPlan.Folder(grid, run);
        var state = SweepRunState.Read(folder);
        if (state.Status == SweepRunStatus.Done) { Say($"{run.Name}: done, skipped"); return null; }
        if (state.Status == SweepRunStatus.Running) { Say($"{run.Name}: running in another process, left to it"); return null; }
        for (int attempt = 1; attempt <= 2 && !stopping; attempt++)
        {
            bool resume = SweepRunState.Read(folder).Last is not null;
            Say($"{run.Name}: {(resume ? "resuming" : "starting")}{(attempt > 1 ? " (second try)" : "")}");
            int code = Start(run, folder, resume);
            File.WriteAllText(Path.Combine(folder, SweepRunState.ExitFile), code.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n");
            if (code == 0 && SweepRunState.Read(folder).Status == SweepRunStatus.Done) { Say($"{run.Name}: done"); return null; }
            if (code is 130 or 143 && stopping) { Say($"{run.Name}: stopped (resumes on the next run)"); return null; }
            var error = SweepRunState.Read(folder).ErrorLine;
            Say($"{run.Name}: failed with exit {code}{(error is null ? "" : $": {error}")}");
        }
        return stopping ? null : run.Name;
    }

    private int Start(SweepRun run, string folder, bool resume)
    {
        var smile = SweepPlan.SmileExecutable();
        var start = new ProcessStartInfo(smile[0])
        {
            WorkingDirectory = Path.GetDirectoryName(grid.File)!, UseShellExecute = false,
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
        };
        foreach (var a in smile.Skip(1).Concat(["finetune", "--config", SweepPlan.ConfigPath(grid, run)])) start.ArgumentList.Add(a);
        if (resume) start.ArgumentList.Add("--resume");
        using var log = new StreamWriter(Path.Combine(folder, SweepRunState.OutputFile), append: true) { AutoFlush = true };
        log.WriteLine($"# {DateTime.UtcNow:u} smile {string.Join(' ', start.ArgumentList.Skip(smile.Count - 1))}");
        Process process;
        lock (gate)
        {
            if (stopping) return 143;
            process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {smile[0]}");
            running.Add(process);
        }
        try
        {
            process.StandardInput.Close();
            // Both streams into one file, each line whole.
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            process.WaitForExit();
            return process.ExitCode;
        }
        finally
        {
            lock (gate) running.Remove(process);
            process.Dispose();
        }
    }

    private void Stop()
    {
        lock (gate)
        {
            stopping = true;
            foreach (var p in running)
            {
                // SIGTERM: the child writes its _Last and exits 143 (TrainingRun.cs).
                try { Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])?.Dispose(); }
                catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { }
            }
        }
    }

    private void Say(string line)
    {
        lock (output) output.WriteLine(line);
    }
}

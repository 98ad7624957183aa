using System.Diagnostics;
using Smile.Diagnostics;

namespace Smile.Tests;

/// <summary>Runs the `smile` CLI (built beside the tests) as a child process, so that a native crash
/// (a signal) becomes a failed assertion instead of a dead test run.</summary>
public static class SmileProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        /// <summary>"exit 0", or "killed by signal N" for the 128+N exit codes a shell would report.</summary>
        public string Describe() => ExitCode > 128 ? $"killed by signal {ExitCode - 128} (exit {ExitCode})" : $"exit {ExitCode}";
    }

    /// <summary>
    /// A start of `dotnet smile.dll ARGS` (streams redirected) whose SIGINT is at its default disposition, for the tests
    /// that press Ctrl-C: a test run started in the background of a non-interactive shell (`nohup ... &amp;`) passes
    /// SIGINT on ignored, and .NET then leaves it ignored, as a shell's background job should be. Debian's python3 (the
    /// tests' PyTorch reference, always there) resets it and execs smile in the same process, so the pid is smile's.
    /// <paramref name="report"/> is its finalizer watch's file, for <see cref="CheckFinalizerReport"/> after the run.
    /// </summary>
    public static ProcessStartInfo InterruptibleStart(IEnumerable<string> args, out string report)
    {
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])");
        start.ArgumentList.Add("dotnet");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "smile.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        report = WatchFinalizers(start);
        return start;
    }

    public static Result Run(params string[] args) => RunWith(new Dictionary<string, string?>(), args);

    /// <summary>As <see cref="Run"/>, with environment variables set (a null value removes the variable).</summary>
    public static Result RunWith(IReadOnlyDictionary<string, string?> environment, params string[] args) =>
        RunWatched(environment, null, args);

    /// <summary>As <see cref="RunWith"/>, with <paramref name="watch"/> given the started process on a thread of its
    /// own (to sample its memory, or kill it); the result waits for the watcher to return.</summary>
    public static Result RunWatched(IReadOnlyDictionary<string, string?> environment, Action<Process>? watch, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "smile.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        var report = WatchFinalizers(start); // before the caller's environment, which may set the watch's file itself
        foreach (var (name, value) in environment)
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        start.ArgumentList.Add(dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var watcher = watch is null ? Task.CompletedTask : Task.Factory.StartNew(() => watch(process), TaskCreationOptions.LongRunning);
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"smile {string.Join(' ', args)} did not finish in 10 minutes");
        }
        watcher.GetAwaiter().GetResult();
        CheckFinalizerReport(report, args);
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>
    /// Gives <paramref name="start"/> a report file of its own for the finalizer watch (every smile the tests start is
    /// watched for TorchSharp Scalars left to the finalizer, the use-after-free hazard of docs/DESIGN.md, "Scalars";
    /// <see cref="WatchEverySmile"/>); pass the returned path to <see cref="CheckFinalizerReport"/> when the run is over.
    /// </summary>
    private static string WatchFinalizers(ProcessStartInfo start)
    {
        var report = Path.Combine(Path.GetTempPath(), $"smile-finalizers-{Guid.NewGuid():N}.txt");
        start.Environment[FinalizerWatch.Variable] = report;
        return report;
    }

    /// <summary>Fails the test when the watched run finalized a Scalar, whatever else the test checks (a run that
    /// exited 0 also exits 70 then; this catches the runs that stop with an error). A run that did not finish (killed,
    /// crashed) writes no report, and its test sees the exit code.</summary>
    public static void CheckFinalizerReport(string report, IEnumerable<string> args)
    {
        if (!File.Exists(report)) return;
        var lines = File.ReadAllLines(report);
        File.Delete(report);
        if (lines.FirstOrDefault(l => FinalizerWatch.ScalarsIn(l) > 0) is { } finalized)
            throw new Xunit.Sdk.XunitException($"smile {string.Join(' ', args)} left TorchSharp Scalars to the finalizer ({finalized}): each is a use-after-free hazard (docs/DESIGN.md, \"Scalars\")");
    }
}

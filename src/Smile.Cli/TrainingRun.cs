using Serilog;
using Smile.Training;

namespace Smile.Cli;

/// <summary>What a training verb prints at the end (stdout) and whether it was stopped before finishing.</summary>
internal sealed record RunOutcome(bool Interrupted, params string[] Lines);

/// <summary>
/// The frame every training verb (finetune, distill, simtrans train-simnet) runs its loop in: the output folder,
/// the log (console and file) opened with the full argument line, the live progress line, Ctrl-C (exit 130) and SIGTERM
/// (exit 143) turned into a cancellation (the engine writes _Last), and a diverged loss as one error line (exit 3).
/// </summary>
internal static class TrainingRun
{
    public const int Interrupted = 130;
    public const int Terminated = 143;
    public const int Diverged = 3;

    public static int Execute(string save, string logPath, IReadOnlyDictionary<string, string> arguments,
        Func<ILogger, ITrainingMonitor, CancellationToken, RunOutcome> run)
    {
        // The run's folder is taken before anything is written to it: a second process with the same run name stops here.
        using var runLock = TakeRunFolder(save, Path.GetFileNameWithoutExtension(logPath));
        // What a killed earlier run left half-written (its process gone) would otherwise stay forever.
        var stale = Smile.IO.AtomicFile.RemoveStaleTemporaries(save);
        // One writer for the run's console: log lines above the live status line, never glued to it.
        var console = StatusConsole.ForStandardError();
        using var log = Logging.Create(logPath, console);
        // The settings as flags, as the reference prints its args; unset (empty) ones are left out of the line.
        log.Information("{Args}", string.Join(" ", arguments.Where(a => a.Value.Length > 0).Select(a => $"--{a.Key} {a.Value}")));
        foreach (var file in stale) log.Information("Removed {File}, a temporary an interrupted run left behind", file);
        using var display = new ProgressDisplay(console);
        using var interrupt = new CancellationTokenSource();
        ConsoleCancelEventHandler onCtrlC = (_, e) => { e.Cancel = true; interrupt.Cancel(); };
        Console.CancelKeyPress += onCtrlC;
        // SIGTERM (docker stop, systemd, Slurm, timeout) stops the run as Ctrl-C does: _Last written, exit 143.
        bool terminated = false;
        using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            terminated = true;
            interrupt.Cancel();
        });
        try
        {
            var outcome = run(log, display, interrupt.Token);
            display.Dispose();
            foreach (var line in outcome.Lines) console.WriteResult(line);
            return !outcome.Interrupted ? 0 : terminated ? Terminated : Interrupted;
        }
        catch (DivergedException d)
        {
            display.Dispose();
            string message = CliErrors.WithFlags(d.Message);
            log.Error("{Message}", message);
            console.WriteLine($"error: {message}");
            return Diverged;
        }
        finally
        {
            Console.CancelKeyPress -= onCtrlC;
        }
    }

    private static Smile.IO.RunLock TakeRunFolder(string save, string runName)
    {
        try
        {
            return Smile.IO.RunLock.Acquire(save, runName);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new UsageException($"--save: cannot write the run's files into {Path.GetFullPath(save)} ({e.Message})");
        }
    }
}

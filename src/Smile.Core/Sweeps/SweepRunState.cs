using System.Text.Json;
using Smile.Training;

namespace Smile.Sweeps;

public enum SweepRunStatus { NotStarted, Running, Stopped, Failed, Done }

/// <summary>
/// Where one run of a sweep stands, from its own folder only (it is the run's --save and holds nothing else): done when
/// its summary says it finished (not interrupted); running while a process holds its lock (the operating system's
/// lock of RunLock.cs, released when the holder dies); failed when the last attempt's exit code (the file "exit" the
/// sweep writes) is neither success nor a stop; stopped (resumable) when it has a _Last; else not started.
/// </summary>
public sealed record SweepRunState(SweepRunStatus Status, string? Summary, string? Last, int? ExitCode, string? ErrorLine)
{
    public const string ConfigFile = "run.json";
    public const string OutputFile = "sweep.log";
    public const string ExitFile = "exit";

    public static SweepRunState Read(string folder)
    {
        if (!Directory.Exists(folder)) return new(SweepRunStatus.NotStarted, null, null, null, null);
        var summary = Directory.EnumerateFiles(folder, "*_summary.json").Order(StringComparer.Ordinal).FirstOrDefault();
        var last = Directory.EnumerateFiles(folder, "*_Last.safetensors").Order(StringComparer.Ordinal).FirstOrDefault();
        int? exit = ReadExit(Path.Combine(folder, ExitFile));
        if (summary is not null && Finished(summary)) return new(SweepRunStatus.Done, summary, last, exit, null);
        if (Locked(folder)) return new(SweepRunStatus.Running, summary, last, exit, null);
        // 130 and 143: stopped on purpose (Ctrl-C, SIGTERM, a Slurm time limit), the _Last resumes it.
        if (exit is { } code && code is not (0 or 130 or 143)) return new(SweepRunStatus.Failed, summary, last, exit, LastErrorLine(folder));
        if (last is not null) return new(SweepRunStatus.Stopped, summary, last, exit, null);
        return new(SweepRunStatus.NotStarted, summary, last, exit, null);
    }

    /// <summary>The run's summary: written at the end of every session; finished when it was not interrupted.</summary>
    public static TrainingSummary? ReadSummary(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainingSummary>(File.ReadAllText(path),
                new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });
        }
        catch (JsonException) { return null; }
    }

    private static bool Finished(string summaryPath) => ReadSummary(summaryPath) is { Interrupted: false };

    private static int? ReadExit(string path) =>
        File.Exists(path) && int.TryParse(File.ReadAllText(path).Trim(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int code) ? code : null;

    /// <summary>Whether a live process holds a lock in the folder: a lock that a dead process left opens at once.</summary>
    private static bool Locked(string folder)
    {
        foreach (var lockFile in Directory.EnumerateFiles(folder, "*.lock"))
        {
            if (!File.Exists(lockFile + ".pid")) continue; // the holder removes its pid file when it lets go
            try
            {
                using var probe = new FileStream(lockFile, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) { return true; }
        }
        return false;
    }

    /// <summary>The last line mentioning an error in what the run printed (the sweep's capture) or logged.</summary>
    private static string? LastErrorLine(string folder)
    {
        foreach (var log in new[] { Path.Combine(folder, OutputFile) }.Concat(Directory.EnumerateFiles(folder, "*.txt")))
        {
            if (!File.Exists(log)) continue;
            var line = File.ReadLines(log).LastOrDefault(l => l.Contains("error", StringComparison.OrdinalIgnoreCase) || l.Contains("exception", StringComparison.OrdinalIgnoreCase));
            if (line is not null) return line.Trim();
        }
        return null;
    }
}

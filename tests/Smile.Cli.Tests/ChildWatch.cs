using System.Diagnostics;

namespace Smile.Tests.Cli;

/// <summary>
/// Watches a `smile` child (<see cref="SmileProcess.RunWatched"/>) until it exits: samples its peak resident memory
/// (VmHWM in /proc/PID/status, the kernel's own high-water mark, so a sample misses nothing that came before it) and
/// kills it once it goes over <paramref name="memoryCapBytes"/> or runs longer than <paramref name="timeLimit"/>, so a
/// regression fails the test instead of taking the machine's memory or hanging the run.
/// </summary>
public sealed class ChildWatch(long memoryCapBytes, TimeSpan timeLimit)
{
    public long PeakBytes { get; private set; }
    /// <summary>How many times VmHWM was read (0 would mean the measurement never happened).</summary>
    public int Samples { get; private set; }
    public string? KilledBecause { get; private set; }

    public void Watch(Process process)
    {
        var status = $"/proc/{process.Id}/status";
        var clock = Stopwatch.StartNew();
        while (!process.HasExited)
        {
            if (HighWaterMark(status) is long peak)
            {
                PeakBytes = Math.Max(PeakBytes, peak);
                Samples++;
            }
            if (PeakBytes > memoryCapBytes) KilledBecause = $"peak resident memory {PeakBytes >> 20} MiB over the cap of {memoryCapBytes >> 20} MiB";
            else if (clock.Elapsed > timeLimit) KilledBecause = $"still running after {timeLimit.TotalSeconds:F0} s";
            if (KilledBecause is not null)
            {
                try { process.Kill(entireProcessTree: true); }
                catch (InvalidOperationException) { } // it exited meanwhile
                return;
            }
            Thread.Sleep(10);
        }
    }

    /// <summary>VmHWM in bytes, or null once the process is gone (a zombie's status has no memory lines).</summary>
    private static long? HighWaterMark(string statusPath)
    {
        try
        {
            foreach (var line in File.ReadLines(statusPath))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return null;
    }
}

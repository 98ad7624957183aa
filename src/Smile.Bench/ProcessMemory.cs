using System.Globalization;

namespace Smile.Bench;

/// <summary>This process's resident memory from /proc/self/status (NaN where there is none).</summary>
public static class ProcessMemory
{
    /// <summary>VmRSS: the resident set now, in MiB.</summary>
    public static double ResidentMiB() => StatusKiB("VmRSS:") / 1024.0;

    /// <summary>VmHWM: the peak resident set so far, in MiB.</summary>
    public static double PeakResidentMiB() => StatusKiB("VmHWM:") / 1024.0;

    private static double StatusKiB(string field)
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
            return line is null ? double.NaN : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        catch (IOException) { return double.NaN; }
    }
}

using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Smile.Training;

/// <summary>What every training loop (the classifier's, the SimNet's) writes and logs the same way.</summary>
internal static class RunFiles
{
    /// <summary>The run's summary JSON, written atomically (temporary file, then rename); NaN is allowed (a run
    /// without evaluation has no accuracy).</summary>
    public static void WriteSummary<T>(string path, T summary) =>
        IO.AtomicFile.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(summary,
            new JsonSerializerOptions { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals }));

    /// <summary>Resident memory of this process: it must stay flat over a run (every step's tensors are disposed).</summary>
    public static long ResidentMiB()
    {
        using var self = Process.GetCurrentProcess();
        return self.WorkingSet64 >> 20;
    }
}

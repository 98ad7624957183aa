using Smile.Diagnostics;

namespace Smile.Cli;

/// <summary>
/// A developer's check that the CLI tests set for every smile they start, scripts' included: under
/// SMILE_WATCH_FINALIZERS=FILE, smile appends to FILE at exit the TorchSharp objects that reached the finalizer instead
/// of being disposed (/dev/stderr shows them), and a run that would exit 0 exits 70 when a Scalar did: a use-after-free
/// hazard (docs/DESIGN.md, "Scalars"; Core/Diagnostics/FinalizerWatch.cs).
/// </summary>
internal static class FinalizerReport
{
    /// <summary>A watch for the whole run, or null when the variable is not set.</summary>
    public static FinalizerWatch? Start() =>
        string.IsNullOrEmpty(Environment.GetEnvironmentVariable(FinalizerWatch.Variable)) ? null : new FinalizerWatch();

    /// <summary>Writes the report and returns the process's exit code: <paramref name="code"/>, or 70 in its place when
    /// it is 0 and a Scalar was finalized.</summary>
    public static int Finish(FinalizerWatch? watch, int code)
    {
        if (watch is null) return code;
        var finalized = watch.Settle();
        var file = Environment.GetEnvironmentVariable(FinalizerWatch.Variable)!;
        try
        {
            File.AppendAllText(file, FinalizerWatch.ReportPrefix + FinalizerWatch.Describe(finalized) + "\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"smile: {FinalizerWatch.Variable}: cannot write {file}: {e.Message}");
        }
        long scalars = finalized.GetValueOrDefault(nameof(TorchSharp.Scalar));
        if (code != 0 || scalars == 0) return code;
        Console.Error.WriteLine($"smile: {scalars} TorchSharp Scalars reached the finalizer ({FinalizerWatch.Variable}; docs/DESIGN.md, \"Scalars\")");
        return FinalizerWatch.ScalarsFinalizedExitCode;
    }
}

using System.Diagnostics;

namespace Smile.Cli.Commands;

/// <summary>How the benchmarks start Debian's PyTorch as their baseline: /usr/bin/python3 with the same allocator policy
/// Smile applies to itself, and a stated OpenMP policy (not whatever this process inherited).</summary>
internal static class TorchBaseline
{
    public const string Interpreter = "/usr/bin/python3";

    /// <summary>A start for <paramref name="script"/> under the tuned allocator, with the OpenMP variables of
    /// <paramref name="openMp"/> and no others (empty: OpenMP's defaults, as PyTorch's users run it).</summary>
    public static ProcessStartInfo Start(string script, IReadOnlyDictionary<string, string> openMp)
    {
        var start = new ProcessStartInfo(Interpreter) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        start.Environment["GLIBC_TUNABLES"] = Smile.Native.AllocatorPolicy.GlibcTunables;
        foreach (var name in Smile.Native.ThreadPolicy.VariableNames) start.Environment.Remove(name);
        foreach (var (name, value) in openMp) start.Environment[name] = value;
        return start;
    }
}

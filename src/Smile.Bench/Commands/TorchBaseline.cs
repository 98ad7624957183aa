using System.Diagnostics;
using System.Text.Json;

namespace Smile.Bench.Commands;

/// <summary>How the benchmarks start PyTorch as their baseline: Debian's /usr/bin/python3 (or the interpreter named by
/// SMILE_PYTHON: on a GPU machine, the python3 whose PyTorch has CUDA) with the same allocator policy Smile applies to
/// itself, and a stated OpenMP policy (not whatever this process inherited).</summary>
internal static class TorchBaseline
{
    public static string Interpreter { get; } = Environment.GetEnvironmentVariable("SMILE_PYTHON") is { Length: > 0 } chosen ? chosen : "/usr/bin/python3";

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

    /// <summary>bench/torch_step.py's JSON reply for one run (the PyTorch side of `smile bench train` and `smile bench
    /// memory`), under OpenMP's defaults; null when Python or the script is missing, and (with a warning on stderr) when the child fails.
    /// <paramref name="roundedConvolutions"/>: PyTorch computes its convolutions under autocast as Smile's
    /// LowPrecisionConvolution does (when Smile does, on a CPU without the precision's kernels: like against like).</summary>
    public static JsonElement? RunStep(string arch, int size, int batch, int steps, int threads, string layout, string[]? extra = null, string precision = "fp32", string device = "cpu",
        bool roundedConvolutions = false)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "bench", "torch_step.py");
        if (!File.Exists(Interpreter) || !File.Exists(script)) return null;
        // PyTorch as its users run it: OpenMP's default wait policy, whatever this process uses.
        var start = Start(script, new Dictionary<string, string>());
        start.Environment["SMILE_BENCH_PRECISION"] = precision;
        start.Environment["SMILE_BENCH_DEVICE"] = device;
        if (roundedConvolutions) start.Environment["SMILE_BENCH_ROUNDED_CONV"] = "1";
        foreach (var a in new object[] { arch, size, batch, steps, threads, layout }) start.ArgumentList.Add(Convert.ToString(a, System.Globalization.CultureInfo.InvariantCulture)!);
        foreach (var a in extra ?? []) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            Console.Error.WriteLine($"warning: the PyTorch baseline ({layout}) failed: {error.Result.Trim().Split('\n').LastOrDefault()}; run scripts/install-deps.sh");
            return null;
        }
        return JsonDocument.Parse(output).RootElement.Clone();
    }
}

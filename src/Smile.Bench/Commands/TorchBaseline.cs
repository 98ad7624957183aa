using System.Diagnostics;
using System.Text.Json;

namespace Smile.Bench.Commands;

/// <summary>How the benchmarks start PyTorch as their baseline: Debian's /usr/bin/python3 (or the interpreter named by
/// SMILE_PYTHON: on a GPU machine, the python3 whose PyTorch has CUDA) with the same allocator policy Smile applies to
/// itself, and a stated OpenMP policy (not whatever this process inherited).</summary>
internal static class TorchBaseline
{
    public static string Interpreter { get; } = Environment.GetEnvironmentVariable("SMILE_PYTHON") is { Length: > 0 } chosen ? chosen : "/usr/bin/python3";

    /// <summary>The ATen kernel set PyTorch runs with at <paramref name="precision"/>: the user's ATEN_CPU_CAPABILITY when
    /// set; otherwise "avx512" for bf16 on a CPU with AVX-512 (BW, VL and DQ), and PyTorch's own choice (null) else.
    /// Debian's PyTorch 1.13 keeps its AVX-512 kernels opt-in (it reports "CPU capability usage: AVX2" on such a CPU);
    /// with them its bf16 SMILE step ran about 6% faster here and its fp32 step no faster (docs/PERFORMANCE.md,
    /// "PyTorch's AVX-512 kernels"), so the bf16 baseline opts in. LibTorch 2.10, Smile's, picks AVX-512 by itself but
    /// ships AVX-512 builds of few kernels, none of the ResNet's elementwise ones.</summary>
    public static string? AtenCapability(string precision) =>
        Environment.GetEnvironmentVariable("ATEN_CPU_CAPABILITY") is { Length: > 0 } set ? set
        // AVX-512 BW, VL and DQ: the set oneDNN's bf16 kernels ask for is the one ATen's AVX-512 kernels ask for too.
        : precision == "bf16" && Smile.Diagnostics.CpuInfo.Machine.HasOneDnnBf16 ? "avx512" : null;

    /// <summary>How the bench headers name the kernel set of <see cref="AtenCapability"/>.</summary>
    public static string KernelsNote(string precision) => AtenCapability(precision) is { } c ? $", ATEN_CPU_CAPABILITY={c}" : "";

    /// <summary>A start for <paramref name="script"/> under the tuned allocator and the kernel set of <see cref="AtenCapability"/>, with the OpenMP variables of
    /// <paramref name="openMp"/> and no others (empty: OpenMP's defaults, as PyTorch's users run it).</summary>
    public static ProcessStartInfo Start(string script, IReadOnlyDictionary<string, string> openMp, string precision = "fp32")
    {
        var start = new ProcessStartInfo(Interpreter) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        start.Environment["GLIBC_TUNABLES"] = Smile.Native.AllocatorPolicy.GlibcTunables;
        foreach (var name in Smile.Native.ThreadPolicy.VariableNames) start.Environment.Remove(name);
        foreach (var (name, value) in openMp) start.Environment[name] = value;
        if (AtenCapability(precision) is { } capability) start.Environment["ATEN_CPU_CAPABILITY"] = capability;
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
        var start = Start(script, new Dictionary<string, string>(), precision);
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

namespace Smile.Diagnostics;

/// <summary>What the process can see of its CPU: model, the instruction sets LibTorch dispatches on, and cache sizes.</summary>
public sealed record CpuInfo(string Model, IReadOnlyList<string> Isa, IReadOnlyList<string> Caches)
{
    private static readonly string[] InterestingFlags =
        { "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8" };

    /// <summary>True when the kernel reports no cache sizes: oneDNN's heuristics can divide by zero there.</summary>
    public bool CachesHidden => Caches.Count == 0;

    /// <summary>True when LibTorch's oneDNN takes bf16 convolutions on this CPU: its bf16 check asks for AVX-512 BW,
    /// VL and DQ. Without them LibTorch computes bf16 convolutions with its generic kernels, many times slower than
    /// fp32 (docs/PERFORMANCE.md, "Mixed precision").</summary>
    public bool HasOneDnnBf16 => Isa.Contains("avx512bw") && Isa.Contains("avx512vl") && Isa.Contains("avx512dq");

    /// <summary>True when LibTorch's oneDNN takes fp16 convolutions on this CPU: it asks for AVX-512 FP16.</summary>
    public bool HasOneDnnFp16 => Isa.Contains("avx512_fp16");

    /// <summary>This machine's, read once.</summary>
    public static CpuInfo Machine => machine.Value;

    private static readonly Lazy<CpuInfo> machine = new(Read);

    public static CpuInfo Read()
    {
        string model = "unknown";
        var flags = new HashSet<string>();
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                int colon = line.IndexOf(':');
                if (colon < 0) continue;
                string key = line[..colon].Trim(), value = line[(colon + 1)..].Trim();
                if (key == "model name" && model == "unknown") model = value;
                else if (key == "flags" && flags.Count == 0) flags.UnionWith(value.Split(' ', StringSplitOptions.RemoveEmptyEntries));
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return new CpuInfo(model, InterestingFlags.Where(flags.Contains).ToArray(), ReadCaches());
    }

    private static IReadOnlyList<string> ReadCaches()
    {
        var caches = new List<string>();
        const string root = "/sys/devices/system/cpu/cpu0/cache";
        if (!Directory.Exists(root)) return caches;
        foreach (var dir in Directory.EnumerateDirectories(root, "index*").Order(StringComparer.Ordinal))
        {
            string Read(string name) => File.Exists(Path.Combine(dir, name)) ? File.ReadAllText(Path.Combine(dir, name)).Trim() : "";
            string size = Read("size");
            if (size.Length == 0) continue;
            string type = Read("type") switch { "Data" => "d", "Instruction" => "i", _ => "" };
            caches.Add($"L{Read("level")}{type} {size}");
        }
        return caches;
    }
}

using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Smile.Diagnostics;

namespace Smile.Native;

/// <summary>
/// Where a virtual machine hides the CPU's cache sizes, LibTorch's oneDNN (3.7.1) reads every cache of an AMD CPU as
/// one byte: its CPU description (Xbyak's <c>Cpu</c>, one static object, <c>dnnl::impl::cpu::x64::cpu()::cpu_</c>)
/// counts three data-cache levels and computes each size from CPUID leaf 0x8000001D, which returns zeros there, as
/// (0 + 1) x (0 + 1) x (0 + 1) x (0 + 1). Its blocking heuristics then work with caches of a byte or less, and that is
/// behind three things measured on such a machine (docs/PLATFORM-NOTES.md, "oneDNN told its cache sizes are unknown"):
/// channels-last 1x1 convolutions of five channel pairs die by SIGFPE, channels-last fp32 1x1 convolutions of many other
/// shapes return wrong outputs, and the bf16 3x3 convolutions fall back from <c>brgconv</c> to the slower
/// <c>jit_bf16</c>. oneDNN has its own answer for a CPU that reports no caches at all: with zero cache levels it uses
/// fixed sizes (32 KiB L1, 512 KiB L2, 1 MiB L3 per core, <c>platform::get_per_core_cache_size</c>). <see cref="Apply"/>
/// sets the level count of that object to zero, so oneDNN takes that path.
///
/// The object is not exported, so its address comes from the library's full symbol table on disk
/// (<see cref="ElfSymbolTable"/>) and the load address in /proc/self/maps; its layout is Xbyak 7.05's (the version
/// in oneDNN 3.7.1). Nothing is written unless every check below holds: the object is initialised, its feature bits
/// agree with this CPU's for AVX2, AVX-512F and AVX-512BW and its vendor bit with the CPUID vendor, its family and model
/// equal CPUID's, and it holds 1 to 10 cache levels, each under 1 KiB (no real data cache is that small). Anything
/// else (another LibTorch, visible caches, a non-AMD CPU, a stripped library) leaves oneDNN as it is and says why.
/// <c>SMILE_ONEDNN_CACHES=keep</c> turns the change off.
/// </summary>
public static class OneDnnCacheSizes
{
    /// <summary>The variable that turns the change off (value <c>keep</c>).</summary>
    public const string Variable = "SMILE_ONEDNN_CACHES";

    private const string CpuObject = "_ZZN4dnnl4impl3cpu3x643cpuEvE4cpu_";
    private const string CpuObjectGuard = "_ZGVZN4dnnl4impl3cpu3x643cpuEvE4cpu_";

    // Xbyak 7.05 Cpu: Type type_ {uint64 L, H} at 0; bool x2APIC_supported_ at 16; uint32 numCores_[2] at 20;
    // uint32 dataCacheSize_[10] at 28; uint32 coresSharignDataCache_[10] at 68; uint32 dataCacheLevels_ at 108;
    // uint32 avx10version_ at 112; then int model, family, stepping, extModel, extFamily, displayFamily, displayModel.
    private const int DataCacheSizes = 28, DataCacheLevels = 108, DisplayFamily = 136, DisplayModel = 140;
    private const int AvxTwoBit = 20, AmdBit = 25, Avx512FBit = 35, Avx512BwBit = 41;

    private static readonly object Gate = new();
    private static string? state;

    /// <summary>What <see cref="Apply"/> did, for `smile info` and the run log; null before it ran.</summary>
    public static string? State => state;

    private static bool mended;

    /// <summary>Whether oneDNN was told to use its default cache sizes (decided by <see cref="Apply"/>, called here if it
    /// has not run yet).</summary>
    public static bool Mended
    {
        get
        {
            Apply();
            return mended;
        }
    }

    /// <summary>Tells oneDNN its cache sizes are unknown where the machine hides them (once per process; later calls
    /// return the first call's state). Call it after LibTorch is in use and before the model's first convolution:
    /// oneDNN keeps the primitives it made in its cache. Returns one line saying what was done.</summary>
    public static string Apply()
    {
        // Read on every channels-last 1x1 convolution (PointwiseConv2d.OneDnnSeesCaches): once decided, no lock.
        if (Volatile.Read(ref state) is { } decided) return decided;
        lock (Gate)
        {
            if (state is null) Volatile.Write(ref state, Decide());
            return state!;
        }
    }

    private static string Decide()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return "as LibTorch reads them (not Linux x64)";
        if (string.Equals(Environment.GetEnvironmentVariable(Variable), "keep", StringComparison.OrdinalIgnoreCase))
            return $"as the CPU reports them ({Variable}=keep)";
        if (!CpuInfo.Machine.CachesHidden)
            return "as the CPU reports them";
        var (_, vendorB, vendorC, vendorD) = X86Base.CpuId(0, 0);
        if (!(vendorB == 0x68747541 && vendorD == 0x69746E65 && vendorC == 0x444D4163)) // "AuthenticAMD"
            return "left as oneDNN reads them: not an AMD CPU (the one-byte reading is that of Xbyak's AMD path)";
        try
        {
            return Patch();
        }
        catch (Exception e) // a best effort: whatever fails here leaves oneDNN as it was, and says so
        {
            return $"left as oneDNN read them: {e.GetType().Name}: {e.Message}";
        }
    }

    private static unsafe string Patch()
    {
        const string left = "left as oneDNN read them";
        var library = LoadedLibTorchCpu();
        if (library is null) return $"{left}: libtorch_cpu.so is not mapped in this process";
        var symbols = ElfSymbolTable.Find(library.Value.Path, [CpuObject, CpuObjectGuard]);
        if (!symbols.TryGetValue(CpuObject, out long objectOffset) || !symbols.TryGetValue(CpuObjectGuard, out long guardOffset))
            return $"{left}: {library.Value.Path} has no symbol table entry for oneDNN's CPU description";
        byte* guard = (byte*)(library.Value.Base + guardOffset);
        byte* cpu = (byte*)(library.Value.Base + objectOffset);
        if (*guard == 0) InitialiseOneDnn();
        if (*guard == 0) return $"{left}: oneDNN's CPU description was not initialised by a convolution";
        if (Mismatch(cpu) is { } why) return $"{left}: oneDNN's CPU description does not look as expected ({why})";
        uint* levels = (uint*)(cpu + DataCacheLevels);
        uint* sizes = (uint*)(cpu + DataCacheSizes);
        string read = string.Join(", ", Enumerable.Range(0, (int)*levels).Select(i => $"L{i + 1} {sizes[i]} B"));
        *levels = 0;
        mended = true;
        return $"hidden by the (virtual) machine; oneDNN read them as {read} and now uses its defaults (32 KiB L1, 512 KiB L2, 1 MiB L3 per core)";
    }

    // oneDNN describes the CPU at its first primitive: one small convolution that LibTorch gives it (a batch of 16,
    // a 3x3 kernel) before the model's own.
    private static void InitialiseOneDnn()
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        var cpu = TorchSharp.torch.CPU;
        TorchSharp.torch.nn.functional.conv2d(TorchSharp.torch.zeros(16, 8, 4, 4, device: cpu), TorchSharp.torch.zeros(8, 8, 3, 3, device: cpu));
    }

    // Null when the object at cpu is an Xbyak 7.05 Cpu describing this CPU with caches of under 1 KiB; else why not.
    private static unsafe string? Mismatch(byte* cpu)
    {
        ulong features = *(ulong*)cpu;
        bool Bit(int bit) => ((features >> bit) & 1) != 0;
        if (!Bit(AmdBit)) return "its AMD bit is not set";
        if (Bit(AvxTwoBit) != Avx2.IsSupported || Bit(Avx512FBit) != Avx512F.IsSupported || Bit(Avx512BwBit) != Avx512BW.IsSupported)
            return "its AVX2/AVX-512 bits differ from this CPU's";
        var (signature, _, _, _) = X86Base.CpuId(1, 0);
        int model = (signature >> 4) & 0xF, family = (signature >> 8) & 0xF;
        int extModel = (signature >> 16) & 0xF, extFamily = (signature >> 20) & 0xFF;
        int displayFamily = family == 0xF ? family + extFamily : family;
        int displayModel = family is 6 or 0xF ? (extModel << 4) + model : model;
        int seenFamily = *(int*)(cpu + DisplayFamily), seenModel = *(int*)(cpu + DisplayModel);
        if (seenFamily != displayFamily || seenModel != displayModel)
            return $"family {seenFamily} model {seenModel}, CPUID says {displayFamily} {displayModel}";
        uint levels = *(uint*)(cpu + DataCacheLevels);
        if (levels is 0 or > 10) return $"{levels} cache levels";
        uint* sizes = (uint*)(cpu + DataCacheSizes);
        for (int i = 0; i < levels; i++)
            if (sizes[i] >= 1024) return $"L{i + 1} is {sizes[i]} bytes, a real size";
        return null;
    }

    // The start address and path of the mapping of libtorch_cpu.so that begins at file offset 0 (its load address).
    private static (long Base, string Path)? LoadedLibTorchCpu()
    {
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 6 || fields[2] != "00000000") continue;
            string path = fields[5].Trim();
            if (Path.GetFileName(path) != "libtorch_cpu.so") continue;
            return (Convert.ToInt64(fields[0].Split('-')[0], 16), path);
        }
        return null;
    }
}

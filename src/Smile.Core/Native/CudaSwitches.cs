using System.Runtime.InteropServices;

namespace Smile.Native;

/// <summary>
/// LibTorch's process-wide CUDA speed settings, on <c>at::globalContext()</c>, bound by their exported names in
/// libtorch_cpu (the library that holds at::Context on CPU and CUDA builds alike): cuDNN autotuning (benchmark mode)
/// and TF32 for fp32 matrix products (cuBLAS) and convolutions (cuDNN). On a CPU the values are stored and read back
/// but change no computation. The names are probed once (<see cref="Available"/>), as <see cref="Autocast"/>'s are;
/// where one is missing the callers leave the settings alone and say so.
/// </summary>
public static class CudaSwitches
{
    private const string Lib = "libtorch_cpu";
    private const string GlobalContextName = "_ZN2at13globalContextEv";
    private const string SetBenchmarkName = "_ZN2at7Context17setBenchmarkCuDNNEb";
    private const string BenchmarkName = "_ZNK2at7Context14benchmarkCuDNNEv";
    private const string SetTf32CublasName = "_ZN2at7Context18setAllowTF32CuBLASEb";
    private const string Tf32CublasName = "_ZNK2at7Context15allowTF32CuBLASEv";
    private const string SetTf32CudnnName = "_ZN2at7Context17setAllowTF32CuDNNEb";
    private const string Tf32CudnnName = "_ZNK2at7Context14allowTF32CuDNNESt8optionalINS_9Float32OpEE";

    [DllImport(Lib, EntryPoint = GlobalContextName)]
    private static extern IntPtr GlobalContext();

    [DllImport(Lib, EntryPoint = SetBenchmarkName)]
    private static extern void SetBenchmarkCuDnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool on);

    [DllImport(Lib, EntryPoint = BenchmarkName)]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool BenchmarkCuDnn(IntPtr context);

    [DllImport(Lib, EntryPoint = SetTf32CublasName)]
    private static extern void SetAllowTf32CuBlas(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool on);

    [DllImport(Lib, EntryPoint = Tf32CublasName)]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool AllowTf32CuBlas(IntPtr context);

    [DllImport(Lib, EntryPoint = SetTf32CudnnName)]
    private static extern void SetAllowTf32CuDnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool on);

    [DllImport(Lib, EntryPoint = Tf32CudnnName)]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool AllowTf32CuDnn(IntPtr context, NoFloat32Op op);

    /// <summary>std::optional&lt;at::Float32Op&gt; left empty (the getter's default): an int-sized enum and an
    /// "engaged" flag, 8 bytes, trivially copyable, so passed by value in one register.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 8)]
    private struct NoFloat32Op
    {
#pragma warning disable CS0649 // all zero: no value
        public int Value;
        public byte Engaged;
#pragma warning restore CS0649
    }

    private static readonly string[] Names =
        [GlobalContextName, SetBenchmarkName, BenchmarkName, SetTf32CublasName, Tf32CublasName, SetTf32CudnnName, Tf32CudnnName];

    private static readonly Lazy<string?> Missing = new(Probe);

    /// <summary>Whether every function this class binds is exported by the loaded LibTorch.</summary>
    public static bool Available => Missing.Value is null;

    /// <summary>Why the switches are unavailable (the first missing name, or the library that did not load); null when available.</summary>
    public static string? Unavailable => Missing.Value;

    /// <summary>cuDNN autotuning: each new convolution shape tries cuDNN's algorithms once and keeps the fastest.</summary>
    public static bool CudnnBenchmark
    {
        get => BenchmarkCuDnn(Context());
        set => SetBenchmarkCuDnn(Context(), value);
    }

    /// <summary>TF32 tensor-core arithmetic for fp32 matrix products (cuBLAS), on GPUs that have it (Ampere and later).</summary>
    public static bool Tf32Matmul
    {
        get => AllowTf32CuBlas(Context());
        set => SetAllowTf32CuBlas(Context(), value);
    }

    /// <summary>TF32 for fp32 convolutions (cuDNN).</summary>
    public static bool Tf32Convolution
    {
        get => AllowTf32CuDnn(Context(), default);
        set => SetAllowTf32CuDnn(Context(), value);
    }

    private static IntPtr Context() =>
        Available ? GlobalContext() : throw new InvalidOperationException($"LibTorch's context settings are not available ({Unavailable})");

    private static string? Probe() => LibTorchExports.FirstMissing(Lib, Names);
}

using System.Runtime.InteropServices;

namespace Smile.Native;

/// <summary>
/// LibTorch's <c>at::cuda::CUDAGraph</c>, which TorchSharp 0.107 does not expose, bound by its exported C++ names in
/// libtorch_cuda, with the stream functions of libc10_cuda, as docs/GPU.md ("CUDA graphs") records them for PyTorch
/// 2.11. <see cref="Capture"/> records the kernels a piece of code launches (it runs none of them) on a side stream
/// into the caching allocator's private pool; <see cref="Replay"/> launches the recorded kernels again, on the same
/// memory, on the current stream. The names are probed once (<see cref="Available"/>); on a CPU LibTorch the CUDA
/// libraries are absent and graphs are simply unavailable.
/// <para>C++ exceptions cannot cross into .NET (the process would abort), so a capture whose code failed is not ended
/// through <c>capture_end</c> (which throws on an invalidated capture): the stream's capture is ended through the CUDA
/// runtime's C function instead, which returns an error code, and the graph object is left alone (its private pool's
/// memory stays reserved; a failed capture happens once a run).</para>
/// </summary>
public sealed class CudaGraph : IDisposable
{
    private const string TorchCuda = "libtorch_cuda";
    private const string C10Cuda = "libc10_cuda";
    private const string TorchCpu = "libtorch_cpu";
    private const string ConstructName = "_ZN2at4cuda9CUDAGraphC1Eb";
    private const string DestructName = "_ZN2at4cuda9CUDAGraphD1Ev";
    private const string CaptureBeginName = "_ZN2at4cuda9CUDAGraph13capture_beginESt4pairIyyE21cudaStreamCaptureMode";
    private const string CaptureEndName = "_ZN2at4cuda9CUDAGraph11capture_endEv";
    private const string ReplayName = "_ZN2at4cuda9CUDAGraph6replayEv";
    private const string StreamFromPoolName = "_ZN3c104cuda17getStreamFromPoolEba";
    private const string CurrentStreamName = "_ZN3c104cuda20getCurrentCUDAStreamEa";
    private const string SetCurrentStreamName = "_ZN3c104cuda20setCurrentCUDAStreamENS0_10CUDAStreamE";
    private const string StreamHandleName = "_ZNK3c104cuda10CUDAStream6streamEv";
    private const string AutocastCacheName = "_ZN2at8autocast26set_autocast_cache_enabledEb";

    /// <summary>c10::cuda::CUDAStream: device type and index (one byte each), padding, the 64-bit stream id; 16 bytes,
    /// trivially copyable, so passed and returned by value in two registers.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct CudaStream
    {
        public sbyte DeviceType;
        public sbyte DeviceIndex;
        public long Id;
    }

    [DllImport(TorchCuda, EntryPoint = ConstructName)]
    private static extern void Construct(IntPtr self, [MarshalAs(UnmanagedType.U1)] bool keepGraph);

    [DllImport(TorchCuda, EntryPoint = DestructName)]
    private static extern void Destruct(IntPtr self);

    // MempoolId_t is std::pair<unsigned long long, unsigned long long>, passed by value as two integers; {0, 0} asks for
    // a new private pool. The mode is cudaStreamCaptureModeThreadLocal (1), not PyTorch's default global (0): under the
    // global mode the loader's thread pinning its next batch (cudaHostAlloc) invalidated the capture on an H200
    // (docs/GPU.md, "The step as a CUDA graph").
    [DllImport(TorchCuda, EntryPoint = CaptureBeginName)]
    private static extern void CaptureBegin(IntPtr self, ulong poolFirst, ulong poolSecond, int mode);

    [DllImport(TorchCuda, EntryPoint = CaptureEndName)]
    private static extern void CaptureEnd(IntPtr self);

    [DllImport(TorchCuda, EntryPoint = ReplayName)]
    private static extern void ReplayGraph(IntPtr self);

    [DllImport(C10Cuda, EntryPoint = StreamFromPoolName)]
    private static extern CudaStream StreamFromPool([MarshalAs(UnmanagedType.U1)] bool highPriority, sbyte device);

    [DllImport(C10Cuda, EntryPoint = CurrentStreamName)]
    private static extern CudaStream CurrentStream(sbyte device);

    [DllImport(C10Cuda, EntryPoint = SetCurrentStreamName)]
    private static extern void SetCurrentStream(CudaStream stream);

    [DllImport(C10Cuda, EntryPoint = StreamHandleName)]
    private static extern IntPtr StreamHandle(ref CudaStream stream);

    [DllImport(TorchCpu, EntryPoint = AutocastCacheName)]
    private static extern void SetAutocastCache([MarshalAs(UnmanagedType.U1)] bool enabled);

    private const int ThreadLocalMode = 1;

    private delegate int StreamEndCaptureFn(IntPtr stream, out IntPtr graph);
    private delegate int GetLastErrorFn();
    private delegate int GraphDestroyFn(IntPtr graph);

    private static readonly Lazy<string?> Missing = new(Probe);

    /// <summary>Whether every function this class binds is exported by the loaded LibTorch (never on a CPU build).</summary>
    public static bool Available => Missing.Value is null;

    /// <summary>Why graphs are unavailable (the library that did not open, or the first missing name); null when available.</summary>
    public static string? Unavailable => Missing.Value;

    private static readonly Dictionary<sbyte, CudaStream> CaptureStreams = new();

    /// <summary>The side stream every graph of <paramref name="device"/> is captured on, taken from LibTorch's pool once
    /// per process, so that eager warm-up steps can run on it first (<see cref="RunOnCaptureStream"/>), as the probe did:
    /// whatever LibTorch sets up lazily per stream (cuBLAS's workspace, for one) is then set up before the capture.</summary>
    private static CudaStream CaptureStream(sbyte device)
    {
        lock (CaptureStreams)
        {
            if (!CaptureStreams.TryGetValue(device, out var stream)) CaptureStreams[device] = stream = StreamFromPool(highPriority: false, device);
            return stream;
        }
    }

    // The object is 104 bytes in PyTorch 2.11; a larger zeroed block leaves room for another release's fields.
    private const int ObjectBytes = 4096;
    private readonly IntPtr self;
    private readonly sbyte device;
    private bool captured;
    private bool abandoned;
    private bool disposed;

    /// <param name="deviceIndex">The CUDA device the captured code runs on.</param>
    public CudaGraph(int deviceIndex)
    {
        if (!Available) throw new InvalidOperationException($"CUDA graphs are not available in this LibTorch ({Unavailable})");
        device = checked((sbyte)deviceIndex);
        self = Marshal.AllocHGlobal(ObjectBytes);
        Marshal.Copy(new byte[ObjectBytes], 0, self, ObjectBytes);
        Construct(self, keepGraph: false);
    }

    /// <summary>
    /// Records what <paramref name="body"/> launches, as docs/GPU.md's sequence: wait for the device, make a pool
    /// stream current, turn LibTorch's autocast weight cache off (a cached cast would be recorded once and read stale
    /// ever after), begin, run the body, end, and put the previous stream back. Nothing the body launches runs now:
    /// its outputs hold their values only after <see cref="Replay"/>. When the body throws, the capture is ended
    /// without a graph and the exception goes on; this object can then only be disposed.
    /// </summary>
    public void Capture(Action body)
    {
        ArgumentNullException.ThrowIfNull(body);
        ObjectDisposedException.ThrowIf(disposed, this);
        if (captured || abandoned) throw new InvalidOperationException("a CUDA graph is captured once");
        Synchronize();
        var previous = CurrentStream(device);
        var side = CaptureStream(device);
        SetCurrentStream(side);
        SetAutocastCache(false);
        try
        {
            CaptureBegin(self, 0, 0, ThreadLocalMode);
            try
            {
                body();
            }
            catch
            {
                abandoned = true;
                EndAbandoned(side);
                throw;
            }
            CaptureEnd(self);
            captured = true;
        }
        finally
        {
            SetAutocastCache(true);
            SetCurrentStream(previous);
        }
    }

    /// <summary>Runs <paramref name="action"/> eagerly on the stream captures use (waiting for the device before and
    /// after, so that it sees the work queued before it and the work after it sees its results).</summary>
    public void RunOnCaptureStream(Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        ObjectDisposedException.ThrowIf(disposed, this);
        Synchronize();
        var previous = CurrentStream(device);
        SetCurrentStream(CaptureStream(device));
        try
        {
            action();
            Synchronize();
        }
        finally
        {
            SetCurrentStream(previous);
        }
    }

    private void Synchronize() => TorchSharp.torch.cuda.synchronize(new TorchSharp.torch.Device(TorchSharp.DeviceType.CUDA, device));

    /// <summary>Launches the captured kernels on the current stream (without waiting for them).</summary>
    public void Replay()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (!captured) throw new InvalidOperationException("replay of a CUDA graph that was not captured");
        ReplayGraph(self);
    }

    /// <summary>Ends the side stream's capture through the CUDA runtime's C API (no C++ exception can come out of it)
    /// and destroys the partial graph.</summary>
    private static void EndAbandoned(CudaStream side)
    {
        if (!TryCudaRuntime(out var runtime)) return;
        if (!NativeLibrary.TryGetExport(runtime, "cudaStreamEndCapture", out var endPtr)) return;
        var end = Marshal.GetDelegateForFunctionPointer<StreamEndCaptureFn>(endPtr);
        if (end(StreamHandle(ref side), out var graph) == 0 && graph != IntPtr.Zero
            && NativeLibrary.TryGetExport(runtime, "cudaGraphDestroy", out var destroyPtr))
            Marshal.GetDelegateForFunctionPointer<GraphDestroyFn>(destroyPtr)(graph);
        // The failed capture leaves its error as this thread's last CUDA error, which the next kernel launch's check
        // would report (an H200 run died so on the eager step after the fallback): read it, which clears it.
        if (NativeLibrary.TryGetExport(runtime, "cudaGetLastError", out var lastErrorPtr))
            Marshal.GetDelegateForFunctionPointer<GetLastErrorFn>(lastErrorPtr)();
    }

    /// <summary>The CUDA runtime LibTorch loaded (already in the process: opening it by name finds that copy).</summary>
    private static bool TryCudaRuntime(out IntPtr handle)
    {
        foreach (var name in new[] { "libcudart.so.13", "libcudart.so.12", "libcudart.so" })
            if (NativeLibrary.TryLoad(name, out handle)) return true;
        handle = IntPtr.Zero;
        return false;
    }

    private static string? Probe()
    {
        try
        {
            return LibTorchExports.FirstMissing(TorchCuda, [ConstructName, DestructName, CaptureBeginName, CaptureEndName, ReplayName])
                ?? LibTorchExports.FirstMissing(C10Cuda, [StreamFromPoolName, CurrentStreamName, SetCurrentStreamName, StreamHandleName])
                ?? LibTorchExports.FirstMissing(TorchCpu, [AutocastCacheName]);
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or InvalidOperationException)
        {
            return e.Message;
        }
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        // An abandoned capture's object is left as it is (its destructor would check a capture that never ended).
        if (!abandoned)
        {
            Destruct(self);
            Marshal.FreeHGlobal(self);
        }
    }
}

using System.Runtime.InteropServices;

namespace Smile.Native;

/// <summary>
/// LibTorch's autocast (mixed precision), which TorchSharp 0.107 does not expose: the C++ functions of
/// at::autocast, bound by their exported names. Autocast state is per thread; <see cref="Enter"/> turns it on for
/// the calling thread and the returned handle restores what was there. The names are probed once
/// (<see cref="Available"/>); where one is missing, callers fall back to fp32 (docs/PERFORMANCE.md, "Mixed precision").
/// </summary>
public static class Autocast
{
    private const string Lib = "libtorch_cpu";

    // c10::DeviceType and c10::ScalarType are int8 enums; bool is one byte.
    [DllImport(Lib, EntryPoint = "_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb")]
    private static extern void SetEnabled(sbyte device, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport(Lib, EntryPoint = "_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool IsEnabled(sbyte device);

    [DllImport(Lib, EntryPoint = "_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE")]
    private static extern void SetDtype(sbyte device, sbyte dtype);

    [DllImport(Lib, EntryPoint = "_ZN2at8autocast18get_autocast_dtypeEN3c1010DeviceTypeE")]
    private static extern sbyte GetDtype(sbyte device);

    [DllImport(Lib, EntryPoint = "_ZN2at8autocast17increment_nestingEv")]
    private static extern int IncrementNesting();

    [DllImport(Lib, EntryPoint = "_ZN2at8autocast17decrement_nestingEv")]
    private static extern int DecrementNesting();

    [DllImport(Lib, EntryPoint = "_ZN2at8autocast11clear_cacheEv")]
    private static extern void ClearCache();

    private static readonly string[] Names =
    [
        "_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb", "_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE",
        "_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE", "_ZN2at8autocast18get_autocast_dtypeEN3c1010DeviceTypeE",
        "_ZN2at8autocast17increment_nestingEv", "_ZN2at8autocast17decrement_nestingEv", "_ZN2at8autocast11clear_cacheEv",
    ];

    private static readonly Lazy<string?> Missing = new(Probe);

    /// <summary>Whether every autocast function this class binds is exported by the loaded LibTorch.</summary>
    public static bool Available => Missing.Value is null;

    /// <summary>Why autocast is unavailable (the first missing name, or the library that did not load); null when available.</summary>
    public static string? Unavailable => Missing.Value;

    /// <summary>Turns autocast to <paramref name="dtype"/> on for <paramref name="device"/> on this thread until the
    /// handle is disposed (on the same thread), which restores the previous state and, leaving the outermost
    /// region, clears LibTorch's cache of low-precision weight copies (they would be stale after the update).</summary>
    public static IDisposable Enter(TorchSharp.DeviceType device, TorchSharp.torch.ScalarType dtype)
    {
        if (!Available) throw new InvalidOperationException($"autocast is not available in this LibTorch ({Unavailable})");
        var d = (sbyte)device;
        var region = new Region(d, IsEnabled(d), GetDtype(d));
        IncrementNesting();
        SetEnabled(d, true);
        SetDtype(d, (sbyte)dtype);
        return region;
    }

    /// <summary>Turns autocast off for <paramref name="device"/> on this thread until the handle is disposed, which
    /// turns it back on if it was (for code that computes one operation in fp32 inside a region; no nesting count,
    /// so LibTorch's weight cache survives).</summary>
    public static IDisposable Suspend(TorchSharp.DeviceType device)
    {
        if (!Available) throw new InvalidOperationException($"autocast is not available in this LibTorch ({Unavailable})");
        var d = (sbyte)device;
        bool was = IsEnabled(d);
        SetEnabled(d, false);
        return new Suspension(d, was);
    }

    /// <summary>Whether autocast is on for <paramref name="device"/> on this thread.</summary>
    public static bool IsOn(TorchSharp.DeviceType device) => Available && IsEnabled((sbyte)device);

    /// <summary>The type autocast casts to on <paramref name="device"/> on this thread; null when it is off.</summary>
    public static TorchSharp.torch.ScalarType? TypeIfOn(TorchSharp.DeviceType device) =>
        IsOn(device) ? (TorchSharp.torch.ScalarType)GetDtype((sbyte)device) : null;

    private static string? Probe() => LibTorchExports.FirstMissing(Lib, Names);

    private sealed class Suspension(sbyte device, bool wasEnabled) : IDisposable
    {
        private bool done;

        public void Dispose()
        {
            if (done) return;
            done = true;
            SetEnabled(device, wasEnabled);
        }
    }

    private sealed class Region(sbyte device, bool wasEnabled, sbyte previousDtype) : IDisposable
    {
        private bool done;

        public void Dispose()
        {
            if (done) return;
            done = true;
            SetEnabled(device, wasEnabled);
            SetDtype(device, previousDtype);
            if (DecrementNesting() == 0) ClearCache();
        }
    }
}

using System.Runtime.InteropServices;

namespace Smile.Native;

/// <summary>
/// Turns off LibTorch's NNPACK convolutions (PyTorch's <c>torch.backends.nnpack.set_flags(False)</c>, which TorchSharp
/// does not bind) through <c>at::globalContext().setUserEnabledNNPACK(false)</c>.
/// Why: for every CPU convolution that oneDNN does not take (at a batch under 16: small inputs at batch 1, stride-1
/// 1x1 kernels on one thread), LibTorch's backend choice asks whether NNPACK can start before looking at anything
/// else; where NNPACK cannot start, it logs "Could not initialize NNPACK! Reason: Unsupported hardware." on every such
/// call, a line per convolution on stderr (docs/PERFORMANCE.md met it in a probe; docs/RELIABILITY.md). With the
/// user flag off that question is never asked. Nothing is computed differently: LibTorch would pick NNPACK only for an
/// inference batch of 16 or more that oneDNN had not already taken, and oneDNN takes every 32-bit CPU batch that size.
/// </summary>
public static class Nnpack
{
    // at::Context& at::globalContext(); void at::Context::setUserEnabledNNPACK(bool); bool at::Context::userEnabledNNPACK() const.
    // Plain functions and non-virtual members: on x86-64 System V `this` is the first argument.
    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr GlobalContext();

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    private static extern void SetUserEnabledNnpack(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport("libtorch_cpu", EntryPoint = "_ZNK2at7Context17userEnabledNNPACKEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool UserEnabledNnpack(IntPtr context);

    /// <summary>Turns NNPACK off (a flag write: cheap enough to repeat at every model build) and says what it did, for
    /// `smile info`. Call it where LibTorch is in use anyway: calling it loads LibTorch.</summary>
    public static string Disable() =>
        !Supported ? "LibTorch default (not switched off on this platform)"
        : SetEnabled(false) ? "off (LibTorch's flag; oneDNN and LibTorch's own kernels compute every convolution)"
        : "LibTorch default (could not reach its NNPACK flag)";

    /// <summary>LibTorch's flag as it is now, or null where it cannot be read (not Linux x64, or symbols missing).</summary>
    public static bool? IsEnabled()
    {
        if (!Supported) return null;
        try { return UserEnabledNnpack(GlobalContext()); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
    }

    private static bool Supported => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    /// <summary>Sets LibTorch's flag; false where it cannot be reached. Internal for the tests, which turn it back on
    /// to see a model build turn it off.</summary>
    internal static bool SetEnabled(bool enabled)
    {
        if (!Supported) return false;
        try
        {
            SetUserEnabledNnpack(GlobalContext(), enabled);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }
}

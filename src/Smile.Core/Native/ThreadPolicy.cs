namespace Smile.Native;

/// <summary>
/// LibTorch's OpenMP workers spin after each parallel region (GNU OpenMP's default wait policy). In a
/// Smile process the data loader's threads run at the same time, so spinning workers take their cores:
/// on a 2-core machine that other processes were also using, `smile selftest` of ResNet-18 at 56x56,
/// batch 16, went from 30-38 to 89-102 images/s with OMP_WAIT_POLICY=PASSIVE (docs/PERFORMANCE.md). It must be in the C environment before LibTorch loads, so the CLI calls
/// <see cref="Apply"/> first thing. A value the user set is kept.
/// </summary>
public static class ThreadPolicy
{
    public static string State { get; private set; } = "not applied";

    public static string Apply()
    {
        var existing = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY");
        if (existing is not null) return State = $"OMP_WAIT_POLICY={existing} (set by the user)";
        if (!OperatingSystem.IsLinux()) return State = "OpenMP default";
        try
        {
            return State = LibC.SetEnv("OMP_WAIT_POLICY", "PASSIVE", 0) == 0 ? "OMP_WAIT_POLICY=PASSIVE (idle OpenMP workers sleep)" : "OpenMP default (setenv failed)";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return State = "OpenMP default (no libc setenv)";
        }
    }
}

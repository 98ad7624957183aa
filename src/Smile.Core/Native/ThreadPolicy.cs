namespace Smile.Native;

/// <summary>
/// How LibTorch's OpenMP workers wait between parallel regions. GNU OpenMP's default spins for about
/// 300,000 rounds (GOMP_SPINCOUNT; a few milliseconds) before sleeping. In a Smile process the data loader's
/// threads run at the same time, and workers spinning that long take their cores: on a 2-core machine that
/// other processes were also using, `smile selftest` of ResNet-18 at 56x56, batch 16, went from 30-38 to 89-102
/// images/s with OMP_WAIT_POLICY=PASSIVE (no spin at all). Not spinning costs time of its own, though: each op's
/// parallel region then has to wake a sleeping worker. So Smile spins briefly, long enough to cover the gap
/// between two ops of a step, then sleeps (docs/PERFORMANCE.md, "OpenMP wait policy"). The settings must be in
/// the C environment before LibTorch loads, so the CLI calls <see cref="Apply"/> first thing. Values the user
/// set are kept.
/// </summary>
public static class ThreadPolicy
{
    /// <summary>Spin rounds before an idle worker sleeps (GNU OpenMP's default: 300,000).</summary>
    public const int SpinCount = 30000;

    /// <summary>The OpenMP variables this policy reads and sets.</summary>
    public static IReadOnlyList<string> VariableNames { get; } = ["OMP_WAIT_POLICY", "GOMP_SPINCOUNT"];

    public static string State { get; private set; } = "not applied";

    /// <summary>The OpenMP variables in effect in this process (set by the user or by <see cref="Apply"/>), to hand
    /// to a child process that must run under the same policy (.NET's environment copy does not show setenv's).</summary>
    public static IReadOnlyDictionary<string, string> Settings { get; private set; } = new Dictionary<string, string>();

    public static string Apply()
    {
        var user = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in VariableNames)
            if (Environment.GetEnvironmentVariable(name) is string value) user[name] = value;
        if (user.Count > 0)
        {
            Settings = user;
            return State = $"{string.Join(", ", user.Select(kv => $"{kv.Key}={kv.Value}"))} (set by the user)";
        }
        if (!OperatingSystem.IsLinux()) return State = "OpenMP default";
        var ours = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["OMP_WAIT_POLICY"] = "PASSIVE",
            ["GOMP_SPINCOUNT"] = SpinCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        try
        {
            foreach (var (name, value) in ours)
                if (LibC.SetEnv(name, value, 0) != 0) return State = "OpenMP default (setenv failed)";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return State = "OpenMP default (no libc setenv)";
        }
        Settings = ours;
        return State = $"OMP_WAIT_POLICY=PASSIVE, GOMP_SPINCOUNT={SpinCount} (idle OpenMP workers spin briefly, then sleep)";
    }
}

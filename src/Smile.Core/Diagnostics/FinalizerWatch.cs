using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Smile.Diagnostics;

/// <summary>
/// Counts the TorchSharp objects (Scalars, tensors, ...) that reach the garbage collector's finalizer instead of being
/// disposed, from the runtime's own FinalizeObject events. A Scalar finalized is the use-after-free hazard of
/// docs/DESIGN.md, "Scalars" (its value can be freed while LibTorch reads it); a tensor finalized escaped every dispose
/// scope. The analyzer (src/Smile.Analyzers) refuses the forms it can see in Smile's code; this sees everything that
/// runs, TorchSharp's own internals included.
/// </summary>
public sealed class FinalizerWatch : EventListener
{
    /// <summary>The environment variable (a file's path; /dev/stderr to read it on the terminal) under which `smile`
    /// watches a whole run and appends <see cref="ReportPrefix"/> and the counts to that file at exit.</summary>
    public const string Variable = "SMILE_WATCH_FINALIZERS";

    public const string ReportPrefix = "smile: finalized TorchSharp objects: ";

    /// <summary>The exit code of a watched `smile` that would have exited 0 but finalized a Scalar (EX_SOFTWARE).</summary>
    public const int ScalarsFinalizedExitCode = 70;

    const string RuntimeSource = "Microsoft-Windows-DotNETRuntime";
    const long GcKeyword = 0x1;

    // Method-table pointer (what the event names an object's type by) to the name of each TorchSharp class.
    static readonly Lazy<Dictionary<nint, string>> TorchSharpTypes = new(() =>
        typeof(TorchSharp.Scalar).Assembly.GetTypes()
            .Where(t => t.IsClass && !t.IsAbstract && !t.ContainsGenericParameters)
            .ToDictionary(t => (nint)t.TypeHandle.Value, ShortName));

    // "TorchSharp.torch+Tensor" as "Tensor", "TorchSharp.Modules.Parameter" as "Parameter".
    static string ShortName(Type t) => (t.FullName ?? t.Name).Split('.', '+')[^1];

    readonly ConcurrentDictionary<string, long> _finalized = new();
    int _sentinels; // Sentinel objects whose finalization this listener has heard of

    public FinalizerWatch() => _ = TorchSharpTypes.Value;

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == RuntimeSource) EnableEvents(source, EventLevel.Verbose, (EventKeywords)GcKeyword);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName != "FinalizeObject" || e.Payload is null || e.PayloadNames is null) return;
        int at = e.PayloadNames.IndexOf("TypeID");
        if (at < 0) return;
        nint type = e.Payload[at] switch { ulong u => (nint)(long)u, long l => (nint)l, nint p => p, _ => 0 };
        if (type == SentinelType) Interlocked.Increment(ref _sentinels);
        else if (TorchSharpTypes.Value.TryGetValue(type, out var name)) _finalized.AddOrUpdate(name, 1, (_, n) => n + 1);
    }

    /// <summary>Collects everything unreachable and waits until its finalizers have run and their events have reached
    /// this listener, then returns the count per TorchSharp class ("Scalar", "Tensor", ...) finalized since the watch
    /// began. The events come on the runtime's dispatch thread, later: a sentinel finalized after everything else marks
    /// when they are all in.</summary>
    public IReadOnlyDictionary<string, long> Settle()
    {
        for (int i = 0; i < 3; i++) { GC.Collect(); GC.WaitForPendingFinalizers(); }
        int heard = Volatile.Read(ref _sentinels);
        DropSentinel();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (Volatile.Read(ref _sentinels) <= heard)
        {
            if (clock.Elapsed > SentinelWait)
                throw new TimeoutException($"the runtime's FinalizeObject events did not arrive in {SentinelWait.TotalSeconds:F0} s: the finalizer watch cannot count");
            Thread.Sleep(5);
        }
        return new SortedDictionary<string, long>(_finalized, StringComparer.Ordinal);
    }

    static readonly TimeSpan SentinelWait = TimeSpan.FromSeconds(60);
    static readonly nint SentinelType = typeof(Sentinel).TypeHandle.Value;

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    static void DropSentinel() => _ = new Sentinel();

    sealed class Sentinel
    {
        ~Sentinel() { }
    }

    /// <summary>Scalars finalized since the watch began, after <see cref="Settle"/>.</summary>
    public long SettledScalars() => Settle().TryGetValue(nameof(TorchSharp.Scalar), out var n) ? n : 0;

    /// <summary>The Scalars a report line (<see cref="ReportPrefix"/> and <see cref="Describe"/>'s counts) names.</summary>
    public static long ScalarsIn(string line)
    {
        var counts = line.StartsWith(ReportPrefix, StringComparison.Ordinal) ? line[ReportPrefix.Length..] : line;
        var first = counts.Split(',')[0].Split(' ');
        return first.Length == 2 && first[0] == nameof(TorchSharp.Scalar) && long.TryParse(first[1], out var n)
            ? n : throw new FormatException($"not a finalizer report: {line}");
    }

    /// <summary>"Scalar 0, Tensor 3": the counts of a report line, the Scalars always first.</summary>
    public static string Describe(IReadOnlyDictionary<string, long> counts) =>
        string.Join(", ", new[] { nameof(TorchSharp.Scalar) }.Concat(counts.Keys.Where(k => k != nameof(TorchSharp.Scalar)))
            .Select(k => $"{k} {(counts.TryGetValue(k, out var n) ? n : 0)}"));
}

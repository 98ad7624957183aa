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
    /// <summary>The environment variable (set to 1) under which `smile` watches a whole run and prints
    /// <see cref="ReportPrefix"/> and the counts to stderr at exit.</summary>
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
        if (TorchSharpTypes.Value.TryGetValue(type, out var name)) _finalized.AddOrUpdate(name, 1, (_, n) => n + 1);
    }

    /// <summary>Collects everything unreachable and waits until its finalizers (and their events) have run, then
    /// returns the count per TorchSharp class ("Scalar", "Tensor", ...) finalized since the watch began.</summary>
    public IReadOnlyDictionary<string, long> Settle()
    {
        for (int i = 0; i < 3; i++) { GC.Collect(); GC.WaitForPendingFinalizers(); }
        Thread.Sleep(200); // the listener receives events on its own dispatch thread
        return new SortedDictionary<string, long>(_finalized, StringComparer.Ordinal);
    }

    /// <summary>Scalars finalized since the watch began, after <see cref="Settle"/>.</summary>
    public long SettledScalars() => Settle().TryGetValue(nameof(TorchSharp.Scalar), out var n) ? n : 0;

    /// <summary>"Scalar 0, Tensor 3": the line the CLI prints, and tests parse, at the end of a watched run.</summary>
    public static string Describe(IReadOnlyDictionary<string, long> counts) =>
        string.Join(", ", new[] { nameof(TorchSharp.Scalar) }.Concat(counts.Keys.Where(k => k != nameof(TorchSharp.Scalar)))
            .Select(k => $"{k} {(counts.TryGetValue(k, out var n) ? n : 0)}"));
}

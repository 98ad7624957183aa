using System.Diagnostics;
using System.Globalization;
using Smile.Training;

namespace Smile.Cli;

/// <summary>
/// The live status line of a run on a terminal, drawn through a <see cref="StatusConsole"/> (so log lines appear
/// above it): a bar, the iteration, the losses, images/s and the time left while training; a bar, images, images/s
/// and the time left while evaluating. Nothing when the console is not a terminal, where the log's plain lines are
/// the record. Redrawn at most every 250 ms, except when it switches between training and evaluation.
/// <para>Progress reports may arrive on other threads and late (the engine reports evaluation progress through
/// <see cref="Progress{T}"/>, which posts to the thread pool): reports after <see cref="ITrainingMonitor.OnEval"/>
/// and before the next step, or after <see cref="Dispose"/>, are dropped, so a finished evaluation never comes back
/// on the screen.</para>
/// </summary>
internal sealed class ProgressDisplay(StatusConsole console, Func<TimeSpan>? clock = null, string evalLabel = "evaluating") : ITrainingMonitor, IDisposable
{
    public const int BarWidth = 20;
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    private readonly object gate = new();
    private readonly Func<TimeSpan> now = clock ?? StartClock();
    private TimeSpan lastDraw = TimeSpan.MinValue;
    private bool evaluating;
    private bool acceptEvalReports = true;
    private bool closed;
    private (TimeSpan At, int Images) evalStart;

    public void OnStep(StepReport s)
    {
        lock (gate)
        {
            if (closed) return;
            bool switched = evaluating;
            evaluating = false;
            acceptEvalReports = true;
            if (!Due(switched)) return;
            var terms = string.Join(" ", s.Terms.Select(t => $"{t.Key} {Number(t.Value, "F3")}"));
            console.Show($"iter {s.Iteration + 1}/{s.MaxIters} {Bar(s.Iteration + 1, s.MaxIters)} [{s.Regularizer}] loss {Number(s.Loss, "F4")} " +
                $"({terms}) {Number(s.ImagesPerSecond, "F1")} im/s, {Format(s.Remaining)} left");
        }
    }

    public void OnEval(EvalReport eval)
    {
        lock (gate)
        {
            // The evaluation is over: its line goes (the next step draws at once), and late reports of it are dropped.
            evaluating = false;
            acceptEvalReports = false;
            lastDraw = TimeSpan.MinValue;
            console.Clear();
        }
    }

    public void OnEvalProgress(int images, int total)
    {
        lock (gate)
        {
            if (closed || !acceptEvalReports) return;
            var t = now();
            bool started = !evaluating;
            if (started)
            {
                evaluating = true;
                evalStart = (t, images);
            }
            if (!Due(started) && images < total) return;
            console.Show(EvalLine(images, total, t - evalStart.At, images - evalStart.Images, evalLabel));
        }
    }

    /// <summary>"evaluating [bar] 120/400 images, 55.0 im/s, 0m05s left"; rate and time once two reports are apart.</summary>
    public static string EvalLine(int images, int total, TimeSpan since, int imagesSince, string label = "evaluating")
    {
        var line = $"{label} {Bar(images, total)} {images}/{total} images";
        if (imagesSince <= 0 || since <= TimeSpan.Zero) return line;
        double rate = imagesSince / since.TotalSeconds;
        return $"{line}, {Number(rate, "F1")} im/s, {Format(TimeSpan.FromSeconds(Math.Max(0, total - images) / rate))} left";
    }

    /// <summary>"[=====>              ] 25%": done of total as a bar of <see cref="BarWidth"/> characters and a percentage.</summary>
    public static string Bar(long done, long total)
    {
        double share = total <= 0 ? 0 : Math.Clamp((double)done / total, 0, 1);
        int filled = (int)Math.Round(share * BarWidth);
        var bar = new string('=', Math.Max(0, filled - 1)) + (filled == 0 ? "" : filled == BarWidth ? "=" : ">");
        return $"[{bar.PadRight(BarWidth)}] {(int)Math.Floor(share * 100),3}%";
    }

    private bool Due(bool force)
    {
        var t = now();
        if (!force && lastDraw != TimeSpan.MinValue && t - lastDraw < Interval) return false;
        lastDraw = t;
        return true;
    }

    private static Func<TimeSpan> StartClock()
    {
        var watch = Stopwatch.StartNew();
        return () => watch.Elapsed;
    }

    private static string Number(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);

    private static string Format(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : $"{t.Minutes}m{t.Seconds:D2}s";

    /// <summary>Removes the status line; the run may draw it again with its next report.</summary>
    public void Clear() => console.Clear();

    /// <summary>Removes the status line for good: later (late) reports draw nothing.</summary>
    public void Dispose()
    {
        lock (gate) closed = true;
        console.Clear();
    }
}

using Smile.Training;

namespace Smile.Cli;

/// <summary>A live status line on a terminal (iteration, losses, images/s, time left); nothing when output
/// is redirected, where the log's plain lines are the record.</summary>
internal sealed class ProgressDisplay : ITrainingMonitor, IDisposable
{
    private readonly bool live = !Console.IsErrorRedirected;
    private DateTime lastDraw = DateTime.MinValue;
    private int width;

    public void OnStep(StepReport s)
    {
        if (!live || (DateTime.UtcNow - lastDraw).TotalMilliseconds < 250) return;
        lastDraw = DateTime.UtcNow;
        var terms = string.Join(" ", s.Terms.Select(t => $"{t.Key} {t.Value:F3}"));
        Draw($"iter {s.Iteration + 1}/{s.MaxIters} [{s.Regularizer}] loss {s.Loss:F4} ({terms}) {s.ImagesPerSecond:F1} im/s, {Format(s.Remaining)} left");
    }

    public void OnEvalProgress(int images, int total)
    {
        if (live) Draw($"evaluating {images}/{total}");
    }

    private void Draw(string text)
    {
        int max = Math.Max(20, (Console.IsErrorRedirected ? 120 : SafeWidth()) - 1);
        if (text.Length > max) text = text[..max];
        Console.Error.Write("\r" + text.PadRight(width));
        width = text.Length;
    }

    private static int SafeWidth()
    {
        try { return Console.WindowWidth > 0 ? Console.WindowWidth : 120; }
        catch (IOException) { return 120; }
    }

    private static string Format(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : $"{t.Minutes}m{t.Seconds:D2}s";

    public void Clear()
    {
        if (live && width > 0) Console.Error.Write("\r" + new string(' ', width) + "\r");
        width = 0;
    }

    public void Dispose() => Clear();
}

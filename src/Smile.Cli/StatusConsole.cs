namespace Smile.Cli;

/// <summary>
/// The one writer of what a run prints while it runs: log lines, and on a terminal a live status line under them
/// that is redrawn in place. Before a line is written the status line is cleared ("\r" and ESC[2K, erase the line),
/// and after it the status is drawn again, so a log line never ends up glued to the status text. Every write takes
/// one lock, so lines from several threads (the logger, the loader's workers, progress reports) never interleave.
/// When the stream is not a terminal nothing but whole plain lines is written: no status, no control characters.
/// </summary>
internal sealed class StatusConsole
{
    public const string ClearLine = "\r\u001b[2K";

    private readonly object gate = new();
    private readonly TextWriter writer;
    private readonly TextWriter? results;
    private readonly Func<int> width;
    private string? status;

    /// <param name="writer">Where log lines and the status line go (stderr).</param>
    /// <param name="isTerminal">Whether <paramref name="writer"/> is a terminal: only then is a status line drawn.</param>
    /// <param name="results">Where result lines go (stdout); written under the same lock, with the status cleared first.</param>
    /// <param name="width">The terminal's width in characters; a status line is cut to one character less, so it never wraps.</param>
    public StatusConsole(TextWriter writer, bool isTerminal, TextWriter? results = null, Func<int>? width = null)
    {
        this.writer = writer;
        this.results = results;
        IsTerminal = isTerminal;
        this.width = width ?? (() => 120);
    }

    /// <summary>stderr, with a status line when it is a terminal (and TERM is not "dumb"); results to stdout.</summary>
    public static StatusConsole ForStandardError() =>
        new(Console.Error, !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("TERM") != "dumb", Console.Out, TerminalWidth);

    public bool IsTerminal { get; }

    /// <summary>Writes <paramref name="text"/> (one or more lines) above the status line.</summary>
    public void WriteLine(string text) => Write(writer, text);

    /// <summary>Writes a result line to the results stream (stdout), the status line cleared first.</summary>
    public void WriteResult(string text) => Write(results ?? writer, text);

    private void Write(TextWriter to, string text)
    {
        lock (gate)
        {
            if (status is not null) writer.Write(ClearLine);
            if (!ReferenceEquals(to, writer)) writer.Flush();
            to.Write(text.EndsWith('\n') ? text : text + "\n");
            to.Flush();
            if (status is not null) writer.Write(status);
            writer.Flush();
        }
    }

    /// <summary>Shows <paramref name="text"/> as the status line, in place of the previous one (nothing when not a terminal).</summary>
    public void Show(string text)
    {
        if (!IsTerminal) return;
        int max = Math.Max(20, width() - 1);
        if (text.Length > max) text = text[..max];
        lock (gate)
        {
            status = text;
            writer.Write(ClearLine + text);
            writer.Flush();
        }
    }

    /// <summary>Removes the status line, leaving the cursor at the start of the empty line.</summary>
    public void Clear()
    {
        lock (gate)
        {
            if (status is null) return;
            status = null;
            writer.Write(ClearLine);
            writer.Flush();
        }
    }

    private static int TerminalWidth()
    {
        try { return Console.WindowWidth > 0 ? Console.WindowWidth : 120; }
        catch (IOException) { return 120; }
    }
}

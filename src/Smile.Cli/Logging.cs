using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Display;

namespace Smile.Cli;

/// <summary>Serilog to the console (stderr, so stdout stays for results) and to the run's log file. The console lines
/// go through the run's <see cref="StatusConsole"/>, so they appear above the live status line instead of after it.</summary>
internal static class Logging
{
    private const string Template = "{Timestamp:MMdd hh:mm:ss tt} {Message:lj}{NewLine}{Exception}";

    public static Logger Create(string? file, StatusConsole console)
    {
        var config = new LoggerConfiguration().MinimumLevel.Information()
            .WriteTo.Sink(new StatusConsoleSink(console, new MessageTemplateTextFormatter(Template)));
        if (file is not null) config = config.WriteTo.File(file, outputTemplate: Template);
        return config.CreateLogger();
    }

    /// <summary>Each event formatted with the template and written as one piece (all its lines) through the console.</summary>
    private sealed class StatusConsoleSink(StatusConsole console, ITextFormatter formatter) : ILogEventSink
    {
        public void Emit(LogEvent logEvent)
        {
            var text = new StringWriter();
            formatter.Format(logEvent, text);
            console.WriteLine(CliErrors.WithFlags(text.ToString())); // Core names settings in backticks; the console shows flags
        }
    }
}

using Serilog;
using Serilog.Core;

namespace Smile.Cli;

/// <summary>Serilog to the console (stderr, so stdout stays for results) and to the run's log file.</summary>
internal static class Logging
{
    private const string Template = "{Timestamp:MMdd hh:mm:ss tt} {Message:lj}{NewLine}{Exception}";

    public static Logger Create(string? file)
    {
        var config = new LoggerConfiguration().MinimumLevel.Information()
            .WriteTo.Console(outputTemplate: Template, standardErrorFromLevel: Serilog.Events.LogEventLevel.Verbose);
        if (file is not null) config = config.WriteTo.File(file, outputTemplate: Template);
        return config.CreateLogger();
    }
}

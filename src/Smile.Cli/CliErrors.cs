using System.CommandLine;
using System.Text.RegularExpressions;

namespace Smile.Cli;

/// <summary>The one-line messages of errors that do not come from the commands' own checks: a command line the
/// parser rejects, and a native allocation that failed.</summary>
internal static partial class CliErrors
{
    /// <summary>
    /// A Core message with its settings as flags. Smile.Core names a run setting in backticks by its setting name
    /// (`resume`, `device`), which is the flag's name without the dashes; the command line shows `--resume`.
    /// Backticked text with a space (`smile info`) is a command, and stays as it is.
    /// </summary>
    public static string WithFlags(string message) => SettingName().Replace(message, "--$1");

    [GeneratedRegex("`([a-z][a-z0-9_]*)`")]
    private static partial Regex SettingName();

    /// <summary>All of the parser's complaints on one line, then where the valid options are listed.</summary>
    public static string ParseErrorLine(ParseResult parse)
    {
        var messages = parse.Errors.Select(e => e.Message.Trim().TrimEnd('.')).Where(m => m.Length > 0).Distinct().ToList();
        var help = $"`{CommandPath(parse.CommandResult.Command)} --help` lists the {(parse.CommandResult.Command.Subcommands.Count > 0 ? "commands" : "options")}";
        return $"error: {string.Join("; ", messages)} ({help})";
    }

    /// <summary>
    /// One line for a failed allocation, or null when <paramref name="e"/> is not one. LibTorch reports it as an
    /// exception whose message is the allocator's line followed by a native backtrace of dozens of lines; only
    /// the first line is kept, with which memory ran out and the flags of <paramref name="command"/> that lower it.
    /// </summary>
    public static string? OutOfMemoryLine(Exception e, Command? command)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is AggregateException { InnerExceptions.Count: > 0 } many)
                return many.InnerExceptions.Select(inner => OutOfMemoryLine(inner, command)).FirstOrDefault(line => line is not null);
            string? memory = x switch
            {
                OutOfMemoryException => "memory",
                _ when x.Message.Contains("CUDA out of memory", StringComparison.Ordinal)
                    || x.Message.Contains("CUDA error: out of memory", StringComparison.Ordinal) => "GPU memory",
                _ when x.Message.Contains("DefaultCPUAllocator: can't allocate memory", StringComparison.Ordinal) => "CPU memory",
                _ => null,
            };
            if (memory is null) continue;
            string first = x.Message.Split('\n', 2)[0].Trim();
            string during = command is null ? "" : $" during `{CommandPath(command)}`";
            return $"error: out of {memory}{during} ({first}); {Remedy(command)}";
        }
        return null;
    }

    /// <summary>The command's batch-size flags, which bound the memory a step needs.</summary>
    private static string Remedy(Command? command)
    {
        var flags = command?.Options.Select(o => o.Name).Where(n => n.StartsWith("--batch_size", StringComparison.Ordinal)).ToList() ?? [];
        if (flags.Count > 0) return $"lower {string.Join(" or ", flags)}";
        return command?.Options.Any(o => o.Name == "--image_size") == true ? "lower --image_size" : "use smaller inputs or a machine with more memory";
    }

    /// <summary>"smile simtrans weights": the command's name after those of its parents.</summary>
    private static string CommandPath(Command command)
    {
        var names = new List<string>();
        for (Command? c = command; c is not null; c = c.Parents.OfType<Command>().FirstOrDefault())
            names.Add(c is RootCommand ? "smile" : c.Name);
        names.Reverse();
        return string.Join(' ', names);
    }
}

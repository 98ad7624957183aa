using System.CommandLine;
using Smile.Data;
using Smile.Models;
using Smile.Weights;

namespace Smile.Cli;

/// <summary>A user mistake (a flag, a file, a command line the parser rejects, memory that ran out) is one line on
/// stderr and exit code 2, never a stack trace; a bug is one line too (exit 1), with the trace only when SMILE_DEBUG=1.</summary>
internal static class CliRunner
{
    public const int UserError = 2;
    public const int InternalError = 1;

    /// <summary>Parses <paramref name="args"/>, lets <paramref name="prepare"/> apply process-wide settings from the
    /// parse (its exceptions are handled like the verb's), then runs the verb.</summary>
    public static int Run(RootCommand root, string[] args, Action<ParseResult>? prepare = null)
    {
        var parse = root.Parse(args);
        // System.CommandLine's own answer to a bad command line is the help text and exit code 1.
        if (parse.Errors.Count > 0)
        {
            Console.Error.WriteLine(CliErrors.ParseErrorLine(parse));
            return UserError;
        }
        try
        {
            prepare?.Invoke(parse);
            // Our handler, not System.CommandLine's: its default prints the stack trace.
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Smile.Training.MethodSettingException e)
        {
            Console.Error.WriteLine($"error: {MethodFlags.Describe(e)}");
            return UserError;
        }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"error: {CliErrors.WithFlags(e.Message)}");
            return UserError;
        }
        catch (Exception e) when (CliErrors.OutOfMemoryLine(e, parse.CommandResult.Command) is { } line)
        {
            // Not a bug, and the native backtrace helps nobody: what ran out and which flag lowers it.
            Console.Error.WriteLine(line);
            return UserError;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"internal error: {e.GetType().Name}: {e.Message}" +
                (Environment.GetEnvironmentVariable("SMILE_DEBUG") == "1" ? Environment.NewLine + e : " (SMILE_DEBUG=1 shows the stack trace)"));
            return InternalError;
        }
    }

    private static bool IsUserError(Exception e) =>
        e is WeightFileException or ModelConfigException or DataException or UsageException or Smile.IO.RunLockedException;
}

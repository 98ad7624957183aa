using System.CommandLine;

namespace Smile.Cli;

/// <summary>Options under the reference's snake_case name with the kebab-case alias .NET users expect. Also compiled
/// into Smile.Bench (see its project file), so that `smile bench` takes its flags the same way.</summary>
internal static class Flags
{
    public static Option<T> Make<T>(string snakeName, string description, T defaultValue)
    {
        var option = new Option<T>("--" + snakeName, Aliases(snakeName)) { Description = description, DefaultValueFactory = _ => defaultValue };
        return option;
    }

    public static Option<T?> Optional<T>(string snakeName, string description)
    {
        return new Option<T?>("--" + snakeName, Aliases(snakeName)) { Description = description };
    }

    private static string[] Aliases(string snakeName) =>
        snakeName.Contains('_') ? new[] { "--" + snakeName.Replace('_', '-') } : Array.Empty<string>();

    public static void Require(bool condition, string flag, string message)
    {
        if (!condition) throw new UsageException($"--{flag}: {message}");
    }

    public static string ExistingDirectory(string? path, string flag)
    {
        Require(!string.IsNullOrWhiteSpace(path), flag, "is required");
        Require(Directory.Exists(path), flag, $"folder not found: {Path.GetFullPath(path!)}");
        return Path.GetFullPath(path!);
    }

    public static string ExistingFile(string? path, string flag)
    {
        Require(!string.IsNullOrWhiteSpace(path), flag, "is required");
        Require(File.Exists(path), flag, $"file not found: {Path.GetFullPath(path!)}");
        return Path.GetFullPath(path!);
    }
}

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

    /// <summary>A file the verb will write at the end: its folder must exist and the path must not be a folder,
    /// checked before the work starts rather than after it.</summary>
    public static string OutputFile(string path, string flag)
    {
        Require(!string.IsNullOrWhiteSpace(path), flag, "is empty");
        var full = Path.GetFullPath(path);
        Require(!Directory.Exists(full), flag, $"is a folder, not a file: {full}");
        var folder = Path.GetDirectoryName(full)!;
        Require(Directory.Exists(folder), flag, $"folder not found: {folder}");
        return full;
    }

    /// <summary>A folder the verb will write into (created when missing): it must not be a file, and its parent
    /// must exist or be creatable; checked before the work starts.</summary>
    public static string OutputFolder(string path, string flag)
    {
        Require(!string.IsNullOrWhiteSpace(path), flag, "is empty");
        var full = Path.GetFullPath(path);
        Require(!File.Exists(full), flag, $"is a file, not a folder: {full}");
        try { Directory.CreateDirectory(full); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { Require(false, flag, $"cannot create {full} ({e.Message})"); }
        return full;
    }
}

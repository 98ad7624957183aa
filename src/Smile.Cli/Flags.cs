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

    /// <summary>--precision's value, checked and lower-cased: fp32, bf16 or fp16 (<see cref="Smile.Training.MixedPrecision"/>).</summary>
    public static string Precision(string? value)
    {
        string name = (value ?? "").Trim().ToLowerInvariant();
        var names = Smile.Training.MixedPrecision.Names;
        Require(names.Contains(name), "precision", $"must be {string.Join(", ", names)}, not '{name}'");
        return name;
    }

    public static void Require(bool condition, string flag, string message)
    {
        if (!condition) throw new UsageException($"--{flag}: {message}");
    }

    /// <summary>--image_size: at least 32 (a ResNet's five halvings leave one pixel) and at most
    /// <see cref="Smile.Data.TransformSpec.MaxImageSize"/>, where one image is already hundreds of MiB.</summary>
    public static int ImageSize(int size, string flag = "image_size")
    {
        Require(size >= 32, flag, "must be at least 32");
        Require(size <= Smile.Data.TransformSpec.MaxImageSize, flag, $"must be at most {Smile.Data.TransformSpec.MaxImageSize}");
        return size;
    }

    /// <summary>A text flag that must not be empty (a folder or a name).</summary>
    public static string NotBlank(string? value, string flag)
    {
        Require(!string.IsNullOrWhiteSpace(value), flag, "is empty");
        return value!;
    }

    public static string ExistingDirectory(string? path, string flag)
    {
        Require(!string.IsNullOrWhiteSpace(path), flag, "is required");
        Require(Directory.Exists(path), flag, $"folder not found: {Path.GetFullPath(path!)}");
        return Path.GetFullPath(path!);
    }

    /// <summary>A file to be written: not empty, not a folder, in a folder that exists (checked before any work, so
    /// that a long evaluation does not end in a failed write). Null stays null (the flag was not given).</summary>
    public static string? OutputFile(string? path, string flag)
    {
        if (path is null) return null;
        Require(!string.IsNullOrWhiteSpace(path), flag, "is empty: give a file name");
        var full = Path.GetFullPath(path);
        Require(!Directory.Exists(full), flag, $"{full} is a folder, not a file");
        var folder = Path.GetDirectoryName(full)!;
        Require(Directory.Exists(folder), flag, $"folder not found: {folder}");
        return full;
    }

    /// <summary>A folder to be written into, created now when missing (null stays null).</summary>
    public static string? OutputFolder(string? path, string flag)
    {
        if (path is null) return null;
        Require(!string.IsNullOrWhiteSpace(path), flag, "is empty: give a folder");
        var full = Path.GetFullPath(path);
        Require(!File.Exists(full), flag, $"{full} is a file, not a folder");
        try { Directory.CreateDirectory(full); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--{flag}: cannot create the folder {full}: {e.Message}");
        }
        return full;
    }

    /// <summary>Runs a write to the file or folder a flag named; a failure (permissions, a full disk) is that
    /// flag's one-line error.</summary>
    public static void Writing(string flag, string path, Action write)
    {
        try { write(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--{flag}: cannot write {path}: {e.Message}");
        }
    }

    public static string ExistingFile(string? path, string flag)
    {
        Require(!string.IsNullOrWhiteSpace(path), flag, "is required");
        Require(File.Exists(path), flag, $"file not found: {Path.GetFullPath(path!)}");
        return Path.GetFullPath(path!);
    }
}

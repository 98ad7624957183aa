using System.Text.RegularExpressions;

namespace Smile.Diagnostics;

/// <summary>
/// The folder of the LibTorch this process runs on, and the PyTorch version recorded beside it when there is one:
/// a pip install's torch/version.py (the folder is torch/lib) or a LibTorch archive's build-version. The normal build
/// runs on the LibTorch NuGet package, which records none; the GPU build (scripts/publish-gpu.sh) on an installed
/// PyTorch's.
/// </summary>
public sealed partial record LibTorchLocation(string Folder, string? RecordedVersion)
{
    /// <summary>From the paths of the loaded native libraries (libtorch_cpu.so's folder, else libtorch.so's), or null
    /// where neither is among them.</summary>
    public static LibTorchLocation? From(IEnumerable<string> loadedLibraries)
    {
        var paths = loadedLibraries.ToArray();
        string? library = paths.FirstOrDefault(p => Path.GetFileName(p) == "libtorch_cpu.so")
            ?? paths.FirstOrDefault(p => Path.GetFileName(p) == "libtorch.so");
        string? folder = library is null ? null : Path.GetDirectoryName(library);
        return folder is null ? null : new LibTorchLocation(folder, VersionBeside(folder));
    }

    /// <summary>The version recorded in <paramref name="folder"/>/../version.py or ../build-version, or null.</summary>
    public static string? VersionBeside(string folder)
    {
        try
        {
            string parent = Path.GetFullPath(Path.Combine(folder, ".."));
            string versionPy = Path.Combine(parent, "version.py");
            if (File.Exists(versionPy))
                foreach (var line in File.ReadLines(versionPy))
                    if (VersionAssignment().Match(line) is { Success: true } m) return m.Groups[1].Value;
            string buildVersion = Path.Combine(parent, "build-version");
            if (File.Exists(buildVersion))
                return File.ReadLines(buildVersion).FirstOrDefault()?.Trim() is { Length: > 0 } v ? v : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return null;
    }

    [GeneratedRegex(@"^__version__\s*=\s*['""]([^'""]+)['""]")]
    private static partial Regex VersionAssignment();
}

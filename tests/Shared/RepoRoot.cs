namespace Smile.Tests;

/// <summary>The repository's root (the folder holding Smile.sln), found above the test output, for tests that run
/// the project's scripts or read its sources.</summary>
public static class RepoRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Smile.sln"))) return dir.FullName;
        throw new InvalidOperationException("Smile.sln not found above the test output");
    }
}

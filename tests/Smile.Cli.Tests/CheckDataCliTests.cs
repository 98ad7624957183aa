using Smile.Data;

namespace Smile.Tests.Cli;

public sealed class CheckDataCliTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("smile-check-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private void Write(string cls, string name, int width, int height)
    {
        var dir = Directory.CreateDirectory(Path.Combine(root, cls)).FullName;
        SyntheticPhotos.WriteJpeg(SyntheticPhotos.Render(width, height, name.Length), Path.Combine(dir, name));
    }

    [Fact]
    public void ReportsClassCountsSizesAndUnreadableFilesWithExitCode1()
    {
        Write("cat", "1.jpg", 60, 40);
        Write("cat", "2.jpg", 80, 50);
        Write("dog", "1.jpg", 100, 70);
        File.WriteAllText(Path.Combine(root, "dog", "bad.jpg"), "not a jpeg");
        var r = SmileProcess.Run("check-data", root);
        Assert.True(r.ExitCode == 1, r.Describe() + r.Stdout + r.Stderr);
        Assert.Contains("2 classes, 4 images", r.Stdout);
        Assert.Matches(@"\s2\s+cat", r.Stdout);
        Assert.Matches(@"\s2\s+dog", r.Stdout);
        Assert.Contains("width  min 60, median 80, max 100", r.Stdout);
        Assert.Contains("bad.jpg", r.Stdout);
        Assert.Contains("1 unreadable image(s)", r.Stdout);
    }

    [Fact]
    public void AllReadableIsExitCode0()
    {
        Write("cat", "1.jpg", 60, 40);
        var r = SmileProcess.Run("check-data", root);
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        Assert.Contains("all images readable", r.Stdout);
    }

    [Fact]
    public void AMissingFolderIsOneLineNamingItAndExitCode2()
    {
        var missing = Path.Combine(root, "nope");
        var r = SmileProcess.Run("check-data", missing);
        Assert.Equal(2, r.ExitCode);
        var line = Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.StartsWith("error: ", line);
        Assert.Contains(missing, line);
    }
}

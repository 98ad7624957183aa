using Smile.Data;
using Smile.Data.Prepare;

namespace Smile.Tests.Data.Prepare;

public sealed class ImageFolderWriterTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("smile-prepare-");
    public void Dispose() => _temp.Delete(recursive: true);

    private string Source(string name, byte[] bytes)
    {
        var path = Path.Combine(_temp.FullName, "src", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static string[] Tree(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f)).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void WritesFilesAndGeneratedImagesThenChangesNothingOnASecondRun()
    {
        var plan = new ImageFolderPlan();
        plan.AddFile("train", "b", "x.jpg", Source("one.jpg", [1, 2, 3]));
        plan.AddFile("test", "a", "y.jpg", Source("two.jpg", [4, 5]));
        plan.AddGenerated("train", "a", "z.png", () => [9, 9, 9, 9]);
        string output = Path.Combine(_temp.FullName, "out");

        var first = ImageFolderWriter.Write(plan, output);
        Assert.Equal(["test/a/y.jpg", "train/a/z.png", "train/b/x.jpg"], Tree(output));
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(Path.Combine(output, "train/b/x.jpg")));
        Assert.Equal(new byte[] { 9, 9, 9, 9 }, File.ReadAllBytes(Path.Combine(output, "train/a/z.png")));
        Assert.Equal(2, first.Linked + first.Copied);
        Assert.Equal(1, first.Generated);
        Assert.Equal(0, first.Unchanged);
        Assert.Equal([("test", 1, 1), ("train", 2, 2)], first.Counts);

        var second = ImageFolderWriter.Write(plan, output);
        Assert.Equal(3, second.Unchanged);
        Assert.Equal(0, second.Linked + second.Copied + second.Generated);
        Assert.Equal(["test/a/y.jpg", "train/a/z.png", "train/b/x.jpg"], Tree(output));
    }

    [Fact]
    public void ReplacesAnImageWhoseContentDiffers()
    {
        string output = Path.Combine(_temp.FullName, "out");
        Directory.CreateDirectory(Path.Combine(output, "train/a"));
        File.WriteAllBytes(Path.Combine(output, "train/a/z.png"), [1]);
        var plan = new ImageFolderPlan();
        plan.AddGenerated("train", "a", "z.png", () => [7, 7]);
        var result = ImageFolderWriter.Write(plan, output);
        Assert.Equal(1, result.Generated);
        Assert.Equal(new byte[] { 7, 7 }, File.ReadAllBytes(Path.Combine(output, "train/a/z.png")));
    }

    [Fact]
    public void RefusesASplitFolderHoldingImagesThePlanWouldNotWrite()
    {
        string output = Path.Combine(_temp.FullName, "out");
        Directory.CreateDirectory(Path.Combine(output, "train/a"));
        File.WriteAllBytes(Path.Combine(output, "train/a/old.png"), [1]);
        var plan = new ImageFolderPlan();
        plan.AddGenerated("train", "a", "z.png", () => [7]);
        var error = Assert.Throws<DataException>(() => ImageFolderWriter.Write(plan, output));
        Assert.Contains("train/a/old.png", error.Message);
        Assert.False(File.Exists(Path.Combine(output, "train/a/z.png")));
    }

    [Fact]
    public void ATemporaryLeftByAnInterruptedRunIsNotAForeignFile()
    {
        string output = Path.Combine(_temp.FullName, "out");
        Directory.CreateDirectory(Path.Combine(output, "train/a"));
        string leftover = Path.Combine(output, "train/a", Path.GetFileName(Smile.IO.AtomicFile.TemporaryName("z.png")));
        File.WriteAllBytes(leftover, [1]);
        var plan = new ImageFolderPlan();
        plan.AddGenerated("train", "a", "z.png", () => [7]);
        plan.AddFile("train", "a", "y.jpg", Source("y.jpg", [3, 4]));
        var result = ImageFolderWriter.Write(plan, output);
        Assert.Equal(2, result.Generated + result.Linked + result.Copied);
        Assert.Equal(new byte[] { 7 }, File.ReadAllBytes(Path.Combine(output, "train/a/z.png")));
        // Only the leftover remains beside the images: the run's own temporaries were renamed away.
        Assert.Equal(["train/a/y.jpg", "train/a/z.png", "train/a/" + Path.GetFileName(leftover)], Tree(output));
    }

    [Fact]
    public void AMissingSourceIsNamed()
    {
        var plan = new ImageFolderPlan();
        string missing = Path.Combine(_temp.FullName, "src/nothing.jpg");
        plan.AddFile("train", "a", "n.jpg", missing);
        var error = Assert.Throws<DataException>(() => ImageFolderWriter.Write(plan, Path.Combine(_temp.FullName, "out")));
        Assert.Contains(missing, error.Message);
    }

    [Theory]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("")]
    public void RefusesNamesThatWouldEscapeTheirFolder(string name)
    {
        var plan = new ImageFolderPlan();
        Assert.Throws<DataException>(() => plan.AddGenerated("train", name, "x.png", () => [1]));
        Assert.Throws<DataException>(() => plan.AddGenerated("train", "a", name, () => [1]));
    }

    [Fact]
    public void ASplitMayBeAPathOfPlainFolderNames()
    {
        var plan = new ImageFolderPlan();
        plan.AddGenerated("base/train", "a", "x.png", () => [1]);
        plan.AddGenerated("base/test", "a", "x.png", () => [2]);
        string output = Path.Combine(_temp.FullName, "out");
        var result = ImageFolderWriter.Write(plan, output);
        Assert.Equal(["base/test/a/x.png", "base/train/a/x.png"], Tree(output));
        Assert.Equal([("base/test", 1, 1), ("base/train", 1, 1)], result.Counts);
        foreach (var split in new[] { "base/../..", "/base", "base/", "base//train", ".." })
            Assert.Throws<DataException>(() => plan.AddGenerated(split, "a", "y.png", () => [1]));
    }

    [Fact]
    public void RefusesTwoImagesForOneFile()
    {
        var plan = new ImageFolderPlan();
        plan.AddGenerated("train", "a", "x.png", () => [1]);
        Assert.Throws<DataException>(() => plan.AddGenerated("train", "a", "x.png", () => [2]));
    }
}

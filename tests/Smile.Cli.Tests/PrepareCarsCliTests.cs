using Smile.Tests.Data.Prepare;

namespace Smile.Tests.Cli;

/// <summary>`smile prepare cars` on the tiny Stanford Cars of <see cref="StanfordCarsFixture"/>.</summary>
public sealed class PrepareCarsCliTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("smile-cars-cli-");
    public void Dispose() => _temp.Delete(recursive: true);

    private string Source => Path.Combine(_temp.FullName, "stanford_cars");
    private string Output => Path.Combine(_temp.FullName, "out");

    private static string[] Tree(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f)).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void TheCliPreparesTheDatasetAndReportsABadOneOnOneLine()
    {
        StanfordCarsFixture.Write(Source);
        var ok = SmileProcess.Run("prepare", "cars", "--src", Source, "--out", Output);
        Assert.True(ok.ExitCode == 0, ok.Describe() + ok.Stdout + ok.Stderr);
        Assert.Contains($"{Path.Combine(Output, "train")}: 3 classes, 5 images", ok.Stdout);
        Assert.Contains($"{Path.Combine(Output, "test")}: 3 classes, 3 images", ok.Stdout);
        Assert.Equal(StanfordCarsFixture.ExpectedTree, Tree(Output));

        File.Delete(Path.Combine(Source, "cars_test/00002.jpg"));
        var bad = SmileProcess.Run("prepare", "cars", "--src", Source, "--out", Path.Combine(_temp.FullName, "out2"));
        Assert.Equal(2, bad.ExitCode);
        var line = Assert.Single(bad.Stderr.Trim().Split('\n'));
        Assert.StartsWith("error: ", line);
        Assert.Contains("cars_test_annos_withlabels.mat: annotations(2) (fname '00002.jpg')", line);
    }
}

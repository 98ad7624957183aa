using Smile.Tests.Data.Prepare;

namespace Smile.Tests.Cli;

/// <summary>`smile prepare cub` and `smile prepare aircraft` on the shared fixtures (tests/Shared/Fixtures/): what they print and how they fail.</summary>
public sealed class PrepareCubAircraftCliTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("smile-prepare-cli-").FullName;
    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void CubPrintsTheSplitsAndABadLineIsOneLineWithExitCode2()
    {
        string source = Path.Combine(_root, "CUB_200_2011");
        CubFixture.Write(source);
        string output = Path.Combine(_root, "cub");
        var r = SmileProcess.Run("prepare", "cub", "--src", source, "--out", output);
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        Assert.Contains($"{Path.Combine(output, "test")}: 2 classes, 2 images", r.Stdout);
        Assert.Contains($"{Path.Combine(output, "train")}: 2 classes, 3 images", r.Stdout);

        File.AppendAllText(Path.Combine(source, "classes.txt"), "oops\n");
        var bad = SmileProcess.Run("prepare", "cub", "--src", source, "--out", output);
        Assert.True(bad.ExitCode == 2, bad.Describe() + bad.Stdout + bad.Stderr);
        Assert.Equal($"error: {Path.Combine(source, "classes.txt")}:4: malformed line, expected '<id> <value>': 'oops'", bad.Stderr.Trim());
    }

    [Fact]
    public void AircraftTakesTheLevelAndTheCropAndRefusesAnUnknownLevel()
    {
        string source = Path.Combine(_root, "fgvc-aircraft-2013b");
        FgvcAircraftFixture.Write(source);
        string output = Path.Combine(_root, "aircraft");
        var r = SmileProcess.Run("prepare", "aircraft", "--src", source, "--out", output, "--level", "manufacturer", "--crop-banner");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        Assert.Contains($"{Path.Combine(output, "train")}: 3 classes, 4 images", r.Stdout);
        Assert.Contains("written 7", r.Stdout);
        Assert.True(File.Exists(Path.Combine(output, "train", "003_Douglas_Aircraft_Company", "0056978.jpg")));

        var bad = SmileProcess.Run("prepare", "aircraft", "--src", source, "--out", output, "--level", "model");
        Assert.True(bad.ExitCode == 2, bad.Describe() + bad.Stdout + bad.Stderr);
        Assert.Equal("error: --level: must be variant, family or manufacturer (got 'model')", bad.Stderr.Trim());
    }
}

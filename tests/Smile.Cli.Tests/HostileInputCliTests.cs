using Smile.Data;
using Smile.Models;
using Smile.Tests.Data;
using Smile.Weights;

namespace Smile.Tests.Cli;

/// <summary>A ResNet-18 checkpoint of two classes (random weights, 32-pixel inputs) for `smile predict`, written once.</summary>
public sealed class PredictCheckpointFixture : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("smile-hostile-").FullName;
    public string Checkpoint => Path.Combine(Root, "model.safetensors");

    public PredictCheckpointFixture()
    {
        using var model = ModelFactory.Create("resnet18", 2);
        Smile.Weights.Checkpoint.Save(Checkpoint, model, new CheckpointInfo("resnet18", ["ant", "bee"], null, 32,
            [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], 0, 0, "l2", new Dictionary<string, string>()));
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>What the CLI does with hostile input (docs/RELIABILITY.md): decompression bombs, symlink cycles.</summary>
public sealed class HostileInputCliTests(PredictCheckpointFixture model) : IClassFixture<PredictCheckpointFixture>, IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("smile-hostile-data-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true); // deletes links, not what they point to

    private string Photo(string relative, int width = 64, int height = 48)
    {
        var path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        SyntheticPhotos.WriteJpeg(SyntheticPhotos.Render(width, height, relative.Length), path);
        return path;
    }

    [Fact]
    public void CheckDataOnFourDecompressionBombsRefusesThemAndStaysSmall()
    {
        Photo("ok/a.jpg");
        var big = Directory.CreateDirectory(Path.Combine(root, "big")).FullName;
        HugePng.Write(Path.Combine(big, "0.png"), 20000, 20000);
        for (int i = 1; i < 4; i++) File.Copy(Path.Combine(big, "0.png"), Path.Combine(big, $"{i}.png"));

        // Decoding one of them takes 2.8 GB (1.6 GB RGBA buffer, 1.2 GB RGB image) per worker; refusing it from the
        // header leaves the process at its ordinary size (tens of MB). The cap kills a regression before it hurts.
        var watch = new ChildWatch(memoryCapBytes: 512L << 20, timeLimit: TimeSpan.FromMinutes(3));
        var r = SmileProcess.RunWatched(new Dictionary<string, string?>(), watch.Watch, "check-data", root, "--workers", "4");

        Assert.True(watch.KilledBecause is null, watch.KilledBecause);
        Assert.True(watch.Samples > 0, "the child's VmHWM was never read");
        Assert.True(r.ExitCode == 1, r.Describe() + r.Stdout + r.Stderr);
        Assert.Contains("2 classes, 5 images", r.Stdout);
        Assert.Contains("4 unreadable image(s)", r.Stdout);
        for (int i = 0; i < 4; i++)
            Assert.Contains($"unreadable: {Path.Combine(big, $"{i}.png")}: cannot decode image (20000x20000 is 400000000 pixels, over the limit of 178956970", r.Stdout);
    }

    [Fact]
    public void TheFlagAndTheEnvironmentVariableMoveTheLimitAndTheFlagWins()
    {
        Photo("c/a.jpg", 64, 48); // 3072 pixels
        Assert.Equal(0, SmileProcess.Run("check-data", root, "--max_image_pixels", "3072").ExitCode);

        var over = SmileProcess.Run("check-data", root, "--max-image-pixels", "3071");
        Assert.True(over.ExitCode == 1, over.Describe() + over.Stdout + over.Stderr);
        Assert.Contains("64x48 is 3072 pixels, over the limit of 3071", over.Stdout);

        var fromEnvironment = SmileProcess.RunWith(new Dictionary<string, string?> { ["SMILE_MAX_IMAGE_PIXELS"] = "3071" }, "check-data", root);
        Assert.Equal(1, fromEnvironment.ExitCode);
        Assert.Contains("over the limit of 3071", fromEnvironment.Stdout);

        var flagWins = SmileProcess.RunWith(new Dictionary<string, string?> { ["SMILE_MAX_IMAGE_PIXELS"] = "3071" }, "check-data", root, "--max_image_pixels", "3_072");
        Assert.True(flagWins.ExitCode == 0, flagWins.Describe() + flagWins.Stdout + flagWins.Stderr);
    }

    [Theory]
    [InlineData("--max_image_pixels", "many", "error: --max_image_pixels: must be a whole number of pixels, at least 1 (got 'many')")]
    [InlineData("SMILE_MAX_IMAGE_PIXELS", "0", "error: SMILE_MAX_IMAGE_PIXELS: must be a whole number of pixels, at least 1 (got '0')")]
    public void ABadLimitIsOneLineNamingItAndExitCode2(string where, string value, string expected)
    {
        Photo("c/a.jpg");
        var r = where.StartsWith("--", StringComparison.Ordinal)
            ? SmileProcess.Run("check-data", root, where, value)
            : SmileProcess.RunWith(new Dictionary<string, string?> { [where] = value }, "check-data", root);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal(expected, Assert.Single(r.Stderr.Trim().Split('\n')));
    }

    [Fact]
    public void PredictOnABombIsOneLineNamingTheFileAndExitCode2()
    {
        var bomb = Path.Combine(root, "bomb.png");
        HugePng.Write(bomb, 20000, 20000);
        var r = SmileProcess.Run("predict", "--ckpts", model.Checkpoint, "--input", bomb);
        Assert.True(r.ExitCode == 2, r.Describe() + r.Stdout + r.Stderr);
        var line = Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.StartsWith($"error: {bomb}: cannot decode image (20000x20000 is 400000000 pixels, over the limit of 178956970", line);
    }

    [Fact]
    public void CheckDataListsTheBrokenAndCyclicLinksTrainingWouldSkip()
    {
        var cat = Path.GetDirectoryName(Photo("cat/1.jpg"))!;
        File.CreateSymbolicLink(Path.Combine(cat, "dangling.jpg"), Path.Combine(root, "nowhere.jpg"));
        File.CreateSymbolicLink(Path.Combine(cat, "ping.jpg"), Path.Combine(cat, "pong.jpg"));
        File.CreateSymbolicLink(Path.Combine(cat, "pong.jpg"), Path.Combine(cat, "ping.jpg"));
        Directory.CreateSymbolicLink(Path.Combine(cat, "self"), ".");

        var r = SmileProcess.Run("check-data", root);
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr); // skipped as training skips them: not a failure
        Assert.Contains("1 classes, 1 images", r.Stdout);
        Assert.Contains($"warning: {Path.Combine(cat, "dangling.jpg")}: broken symlink, skipped", r.Stdout);
        Assert.Contains($"warning: {Path.Combine(cat, "ping.jpg")}: broken symlink (a cycle of links), skipped", r.Stdout);
        Assert.Contains($"warning: {Path.Combine(cat, "pong.jpg")}: broken symlink (a cycle of links), skipped", r.Stdout);
        Assert.Contains($"warning: {Path.Combine(cat, "self")}: leads to a folder already read", r.Stdout);
    }

    [Fact]
    public void PredictOverAFolderWithALinkToItselfGivesEachImageOnce()
    {
        var a = Photo("in/a.jpg");
        var b = Photo("in/sub/b.jpg");
        Directory.CreateSymbolicLink(Path.Combine(root, "in", "self"), ".");

        var r = SmileProcess.Run("predict", "--ckpts", model.Checkpoint, "--input", Path.Combine(root, "in"), "--topk", "1");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        Assert.Equal([a, b], PredictedPaths(r.Stdout));
        Assert.Contains($"warning: {Path.Combine(root, "in", "self")}: leads to a folder already read", r.Stderr);
    }

    [Fact]
    public void PredictOverTwoCyclicLinksFinishesQuickly()
    {
        var a = Photo("in/a.jpg");
        var b = Photo("in/sub/b.jpg");
        // Two ways back to the top at every level: a walk that follows links meets 2^depth paths before the kernel's
        // 40-link limit stops it.
        Directory.CreateSymbolicLink(Path.Combine(root, "in", "loop1"), ".");
        Directory.CreateSymbolicLink(Path.Combine(root, "in", "sub", "up"), "..");

        var watch = new ChildWatch(memoryCapBytes: 2L << 30, timeLimit: TimeSpan.FromSeconds(90));
        var r = SmileProcess.RunWatched(new Dictionary<string, string?>(), watch.Watch,
            "predict", "--ckpts", model.Checkpoint, "--input", Path.Combine(root, "in"), "--topk", "1");
        Assert.True(watch.KilledBecause is null, watch.KilledBecause);
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        Assert.Equal([a, b], PredictedPaths(r.Stdout));
    }

    [Fact]
    public void PredictAtBatchSize1PrintsNoNnpackLine()
    {
        // At batch 1 and 32 pixels most of ResNet-18's convolutions are too small for oneDNN, so LibTorch's backend
        // choice asks NNPACK first; where NNPACK cannot start, that is a warning line per convolution.
        var image = Photo("one.jpg");
        var r = SmileProcess.Run("predict", "--ckpts", model.Checkpoint, "--input", image, "--batch_size", "1", "--topk", "1");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        Assert.Equal([image], PredictedPaths(r.Stdout));
        Assert.DoesNotContain("NNPACK", r.Stderr);
    }

    /// <summary>The image paths of predict's CSV in output order (run with --topk 1: one row per image, so a repeated image shows).</summary>
    private static string[] PredictedPaths(string csv)
    {
        var rows = csv.Trim().Split('\n').Skip(1).Select(l => l.Split(',')).ToArray();
        Assert.All(rows, f => Assert.Equal("1", f[1])); // --topk 1: one row per image, so a repeat is a repeated image
        return rows.Select(f => f[0]).ToArray();
    }
}

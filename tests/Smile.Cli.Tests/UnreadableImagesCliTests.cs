using System.Text.Json;
using Smile.Models;
using Smile.Weights;
using static TorchSharp.torch;

namespace Smile.Tests.Cli;

/// <summary>An evaluation folder of 50 readable and 2 damaged images, and a small checkpoint of its two classes.</summary>
public sealed class DamagedFolderFixture : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("smile-damaged-").FullName;
    public string Images => Path.Combine(Root, "images");
    public string[] Damaged => [Path.Combine(Images, "ant", "truncated.jpg"), Path.Combine(Images, "bee", "text.png")];

    public DamagedFolderFixture()
    {
        TinyFolders.Write(Images, ["ant", "bee"], 25, 0);
        var photo = File.ReadAllBytes(Path.Combine(Images, "ant", "0.jpg"));
        File.WriteAllBytes(Damaged[0], photo[..(photo.Length / 2)]);
        File.WriteAllText(Damaged[1], "this is not a picture");
    }

    /// <summary>A fresh copy of an untrained shallow CNN checkpoint (32 x 32, classes ant and bee).</summary>
    public string Checkpoint(string name)
    {
        var path = Path.Combine(Root, name + ".safetensors");
        manual_seed(2);
        using var model = ModelFactory.Create("shallow_cnn", 2);
        Smile.Weights.Checkpoint.Save(path, model, new CheckpointInfo("shallow_cnn", ["ant", "bee"], null, 32,
            [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], 0, 0, "l2", new Dictionary<string, string>()));
        return path;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>test and calibrate leave an unreadable image out (never count another in its place) and name it;
/// predict names it and predicts the rest; --strict_images makes it an error.</summary>
public sealed class UnreadableImagesCliTests(DamagedFolderFixture data) : IClassFixture<DamagedFolderFixture>
{
    private string[] StderrLines(SmileProcess.Result r) => r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private void AssertNamesTheDamagedFiles(SmileProcess.Result r)
    {
        var lines = StderrLines(r);
        Assert.Equal(2, lines.Length);
        for (int i = 0; i < 2; i++)
            Assert.StartsWith($"warning: unreadable image skipped: {data.Damaged[i]}: cannot decode image (", lines[i]);
    }

    [Fact]
    public void TestReportsTheReadableImagesOnlyAndNamesTheOthers()
    {
        var ckpt = data.Checkpoint("test");
        var json = Path.Combine(data.Root, "test.json");
        var r = SmileProcess.Run("test", "--test_dir", data.Images, "--ckpts", ckpt, "--batch_size", "4", "--workers", "2", "--json", json);
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
        var lines = r.Stdout.Split('\n');
        Assert.Matches(@"^Acc@5: [\d.]+, NLL: [\d.]+, ECE \(15 bins\): [\d.]+, images: 50$", lines[1]);
        Assert.Equal("Unreadable images skipped: 2 (named on stderr; not counted in any figure)", lines[2]);
        AssertNamesTheDamagedFiles(r);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(50, doc.RootElement.GetProperty("images").GetInt32());
        Assert.Equal(2, doc.RootElement.GetProperty("unreadable_skipped").GetInt32());
        Assert.Equal(data.Damaged, doc.RootElement.GetProperty("unreadable_images").EnumerateArray().Select(e => e.GetString()));

        var strict = SmileProcess.Run("test", "--test_dir", data.Images, "--ckpts", ckpt, "--strict_images");
        Assert.True(strict.ExitCode == 2, strict.Describe() + strict.Stderr);
        Assert.Matches($"^error: ({System.Text.RegularExpressions.Regex.Escape(data.Damaged[0])}|{System.Text.RegularExpressions.Regex.Escape(data.Damaged[1])}): cannot decode image", Assert.Single(StderrLines(strict)));
    }

    [Fact]
    public void CalibrateFitsOnTheReadableImagesOnly()
    {
        var ckpt = data.Checkpoint("calibrate");
        var before = File.ReadAllBytes(ckpt);
        var strict = SmileProcess.Run("calibrate", "--ckpts", ckpt, "--val_dir", data.Images, "--strict_images");
        Assert.True(strict.ExitCode == 2, strict.Describe() + strict.Stderr);
        Assert.StartsWith("error: ", Assert.Single(StderrLines(strict)));
        Assert.Equal(before, File.ReadAllBytes(ckpt)); // a stopped calibration leaves the checkpoint alone

        var r = SmileProcess.Run("calibrate", "--ckpts", ckpt, "--val_dir", data.Images, "--batch_size", "4", "--workers", "2");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
        Assert.Contains("(fitted on 50 images; stored in ", r.Stdout);
        Assert.Contains("Unreadable images skipped: 2 (named on stderr; not counted in any figure)", r.Stdout);
        Assert.Equal(2, StderrLines(r).Count(l => l.StartsWith("warning: unreadable image skipped: ", StringComparison.Ordinal)));
        Assert.All(data.Damaged, path => Assert.Contains($"warning: unreadable image skipped: {path}: ", r.Stderr));
        Assert.NotNull(Checkpoint.ReadInfo(ckpt).Temperature);
    }

    [Fact]
    public void PredictNamesAnUnreadableImageAndPredictsTheRest()
    {
        var ckpt = data.Checkpoint("predict");
        var r = SmileProcess.Run("predict", "--ckpts", ckpt, "--input", data.Images, "--topk", "1", "--batch_size", "8");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
        var rows = r.Stdout.Trim().Split('\n').Skip(1).Select(l => l.Split(',')[0]).ToArray();
        Assert.Equal(50, rows.Length);
        Assert.Equal(50, rows.Distinct().Count());
        Assert.DoesNotContain(data.Damaged[0], rows);
        Assert.DoesNotContain(data.Damaged[1], rows);
        AssertNamesTheDamagedFiles(r);

        var strict = SmileProcess.Run("predict", "--ckpts", ckpt, "--input", data.Images, "--strict_images");
        Assert.True(strict.ExitCode == 2, strict.Describe() + strict.Stderr);
        Assert.Equal($"error: {data.Damaged[0]}: cannot decode image", Assert.Single(StderrLines(strict))[..($"error: {data.Damaged[0]}: cannot decode image".Length)]);
        Assert.Equal("", strict.Stdout);

        var single = SmileProcess.Run("predict", "--ckpts", ckpt, "--input", data.Damaged[1]);
        Assert.True(single.ExitCode == 2, single.Describe() + single.Stderr);
        Assert.StartsWith($"error: {data.Damaged[1]}: cannot decode image", Assert.Single(StderrLines(single)));
    }
}

/// <summary>Validation during training leaves an unreadable image out as `smile test` does (training images are
/// still replaced).</summary>
public sealed class ValidationUnreadableImagesCliTests(TinyTransferFixture data) : IClassFixture<TinyTransferFixture>
{
    [Fact]
    public void FinetuneValidationCountsEachReadableImageOnce()
    {
        var eval = Path.Combine(data.Root, "damaged-eval");
        foreach (var file in Directory.GetFiles(data.Test, "*", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(eval, Path.GetRelativePath(data.Test, file));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy, overwrite: true);
        }
        var damaged = Path.Combine(eval, "bee", "0.jpg");
        File.WriteAllText(damaged, "not a picture");
        var save = Path.Combine(data.Root, "damaged-eval-run");
        var r = SmileProcess.Run("finetune", "--name", "tiny", "--train_dir", data.Train, "--eval_dir", eval, "--model_arch", "resnet18",
            "--pretrained", data.Source, "--image_size", "32", "--batch_size", "6", "--batch_size_eval", "4", "--max_iters", "2",
            "--eval_frequency", "2", "--print_frequency", "1", "--save", save, "--log_dir", Path.Combine(save, "tb"),
            "--regularizer", "l2", "--seed", "5", "--workers", "2");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        Assert.Contains($"Unreadable image skipped: {damaged}: cannot decode image", r.Stdout + r.Stderr);
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(save, "tiny_l2_summary.json")));
        var last = summary.RootElement.GetProperty("LastEval");
        Assert.Equal(8, last.GetProperty("Count").GetInt32()); // 9 files, 8 readable
        Assert.Equal(damaged, Assert.Single(last.GetProperty("Skipped").EnumerateArray()).GetProperty("Path").GetString());
    }
}

using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Smile.Weights;
using static TorchSharp.torch;

namespace Smile.Tests.Cli;

/// <summary>`smile calibrate` end to end on the tiny generated task, and what `test` and `predict` make of its temperature.</summary>
public sealed class CalibrateCliTests(TinyTransferFixture data) : IClassFixture<TinyTransferFixture>
{
    private static readonly object TrainLock = new();

    /// <summary>A fresh copy of a 3-iteration l2 checkpoint of the tiny task (trained once per class).</summary>
    private string Checkpoint(string name)
    {
        var save = Path.Combine(data.Root, "calib-run");
        var best = Path.Combine(save, "tiny_l2_Best.safetensors");
        lock (TrainLock)
        {
            if (!File.Exists(best))
            {
                var r = SmileProcess.Run("finetune", "--name", "tiny", "--train_dir", data.Train, "--eval_dir", data.Test, "--model_arch", "resnet18",
                    "--pretrained", data.Source, "--image_size", "32", "--batch_size", "6", "--batch_size_eval", "4", "--max_iters", "3",
                    "--eval_frequency", "3", "--print_frequency", "1", "--save", save, "--log_dir", Path.Combine(save, "tb"),
                    "--regularizer", "l2", "--seed", "5", "--workers", "2");
                Assert.True(r.ExitCode == 0, r.Describe() + "\n" + r.Stdout + r.Stderr);
            }
        }
        var dir = Directory.CreateDirectory(Path.Combine(data.Root, name)).FullName;
        var copy = Path.Combine(dir, "model.safetensors");
        File.Copy(best, copy, overwrite: true);
        return copy;
    }

    private static double Number(string text, string pattern)
    {
        var m = Regex.Match(text, pattern);
        Assert.True(m.Success, $"no match for {pattern} in:\n{text}");
        return double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static byte[] Bytes(Tensor t) => t.numel() == 0 ? [] : t.contiguous().bytes.ToArray();

    /// <summary>Per image, the probabilities of predict's CSV (all 3 classes: --topk 3), by class name.</summary>
    private static Dictionary<string, Dictionary<string, double>> Probabilities(string csv) =>
        csv.Trim().Split('\n').Skip(1).Select(l => l.Split(','))
            .GroupBy(f => f[0])
            .ToDictionary(g => g.Key, g => g.ToDictionary(f => f[2], f => double.Parse(f[3], CultureInfo.InvariantCulture)));

    [Fact]
    public void CalibrateStoresATemperatureThatTestAndPredictUse()
    {
        var ckpt = Checkpoint("e2e");
        // The reader hands its tensors to the caller's dispose scope: this one frees both reads at the end.
        // (Not MoveToOtherDisposeScope(keep) on them: with TorchSharp 0.107, moving a tensor into the scope it is
        // already in leaves it untracked, and its finalizer later crashes the test host.)
        using var keep = NewDisposeScope();
        var (tensorsBefore, metadataBefore) = SafetensorsFile.ReadWithMetadata(ckpt);

        var testBefore = SmileProcess.Run("test", "--test_dir", data.Test, "--ckpts", ckpt);
        Assert.True(testBefore.ExitCode == 0, testBefore.Describe() + testBefore.Stderr);
        Assert.Contains("No temperature in the checkpoint", testBefore.Stdout);
        Assert.DoesNotContain("After temperature scaling", testBefore.Stdout);
        var predictBefore = SmileProcess.Run("predict", "--ckpts", ckpt, "--input", data.Test, "--topk", "3");
        Assert.True(predictBefore.ExitCode == 0, predictBefore.Describe() + predictBefore.Stderr);

        var calibrate = SmileProcess.Run("calibrate", "--ckpts", ckpt, "--val_dir", data.Train, "--batch_size", "4", "--workers", "2");
        Assert.True(calibrate.ExitCode == 0, calibrate.Describe() + calibrate.Stdout + calibrate.Stderr);
        double printed = Number(calibrate.Stdout, @"Temperature: ([\d.]+) \(fitted on 18 images");
        double nllBefore = Number(calibrate.Stdout, @"NLL: ([\d.]+) ->"), nllAfter = Number(calibrate.Stdout, @"NLL: [\d.]+ -> ([\d.]+)");
        Assert.True(nllAfter <= nllBefore, calibrate.Stdout);
        Assert.Matches(@"ECE \(15 bins\): [\d.]+ -> [\d.]+, Acc@1: ([\d.]+) -> \1", calibrate.Stdout);

        // The temperature is in the metadata; every tensor and every other entry is as it was.
        var info = Smile.Weights.Checkpoint.ReadInfo(ckpt);
        Assert.NotNull(info.Temperature);
        double t0 = info.Temperature!.Value;
        Assert.Equal(printed, t0, 4);
        Assert.NotEqual(1.0, t0);
        var (tensorsAfter, metadataAfter) = SafetensorsFile.ReadWithMetadata(ckpt);
        Assert.Equal(tensorsBefore.Keys, tensorsAfter.Keys);
        foreach (var (name, before) in tensorsBefore)
        {
            var after = tensorsAfter[name];
            Assert.True(before.dtype == after.dtype && before.shape.SequenceEqual(after.shape) && Bytes(before).SequenceEqual(Bytes(after)), $"tensor {name} changed");
        }
        Assert.Equal(metadataBefore.OrderBy(p => p.Key), metadataAfter.Where(p => p.Key != "temperature").OrderBy(p => p.Key));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(ckpt)!, "*.tmp*"));

        // test: the same first lines and "before" figures (same weights), and now the "after" line.
        var json = Path.Combine(Path.GetDirectoryName(ckpt)!, "test.json");
        var testAfter = SmileProcess.Run("test", "--test_dir", data.Test, "--ckpts", ckpt, "--json", json);
        Assert.True(testAfter.ExitCode == 0, testAfter.Describe() + testAfter.Stderr);
        var lines = testAfter.Stdout.Trim().Split('\n');
        Assert.Matches(@"^Test Loss: [\d.]+, Test Acc@1: [\d.]+, time: [\d.]+$", lines[0]);
        Assert.Matches(@"^Acc@5: [\d.]+, NLL: [\d.]+, ECE \(15 bins\): [\d.]+, images: 9$", lines[1]);
        string BeforeLine(string stdout) => stdout.Split('\n').Single(l => l.StartsWith("Before temperature scaling (15 bins): ", StringComparison.Ordinal));
        Assert.Equal(BeforeLine(testBefore.Stdout), BeforeLine(testAfter.Stdout));
        Assert.Matches(@"Before temperature scaling \(15 bins\): Acc@1: [\d.]+, NLL: [\d.]+, ECE: [\d.]+, MCE: [\d.]+, adaptive ECE: [\d.]+, class-wise ECE: [\d.]+, Brier: [\d.]+", lines[2]);
        Assert.Matches($@"^After temperature scaling \(T = {Regex.Escape(t0.ToString("F4", CultureInfo.InvariantCulture))}\): Acc@1: [\d.]+, NLL: [\d.]+, ECE: [\d.]+, MCE: [\d.]+, adaptive ECE: [\d.]+, class-wise ECE: [\d.]+, Brier: [\d.]+$", lines[3]);
        using (var doc = JsonDocument.Parse(File.ReadAllText(json)))
        {
            var root = doc.RootElement;
            Assert.Equal(t0, root.GetProperty("temperature").GetDouble());
            Assert.Equal(15, root.GetProperty("ece_bins").GetInt32());
            foreach (var field in new[] { "accuracy", "nll", "ece", "mce", "adaptive_ece", "classwise_ece", "brier" })
            {
                Assert.True(root.GetProperty("calibration").GetProperty(field).GetDouble() >= 0, field);
                Assert.True(root.GetProperty("temperature_scaled").GetProperty(field).GetDouble() >= 0, field);
            }
            Assert.Equal(root.GetProperty("calibration").GetProperty("accuracy").GetDouble(), root.GetProperty("temperature_scaled").GetProperty("accuracy").GetDouble());
            Assert.Equal(root.GetProperty("top1").GetDouble(), root.GetProperty("calibration").GetProperty("accuracy").GetDouble(), 6);
        }

        var ignored = SmileProcess.Run("test", "--test_dir", data.Test, "--ckpts", ckpt, "--no_temperature", "--ece_bins", "10");
        Assert.True(ignored.ExitCode == 0, ignored.Describe() + ignored.Stderr);
        Assert.DoesNotContain("After temperature scaling", ignored.Stdout);
        Assert.Contains("of the checkpoint ignored (--no_temperature)", ignored.Stdout);
        Assert.Contains("Before temperature scaling (10 bins): ", ignored.Stdout);

        // predict: p_T ∝ p^(1/T) for every image (the CSV has 6 significant digits); --no_temperature gives the old figures.
        var predictAfter = SmileProcess.Run("predict", "--ckpts", ckpt, "--input", data.Test, "--topk", "3");
        Assert.True(predictAfter.ExitCode == 0, predictAfter.Describe() + predictAfter.Stderr);
        Assert.NotEqual(predictBefore.Stdout, predictAfter.Stdout);
        var p = Probabilities(predictBefore.Stdout);
        var q = Probabilities(predictAfter.Stdout);
        Assert.Equal(9, q.Count);
        foreach (var (image, row) in p)
        {
            double sum = row.Values.Sum(v => Math.Pow(v, 1 / t0));
            foreach (var (cls, value) in row)
                Assert.True(Math.Abs(q[image][cls] - Math.Pow(value, 1 / t0) / sum) < 1e-4, $"{image} {cls}: {q[image][cls]} vs {Math.Pow(value, 1 / t0) / sum}");
        }
        var predictIgnored = SmileProcess.Run("predict", "--ckpts", ckpt, "--input", data.Test, "--topk", "3", "--no_temperature");
        Assert.Equal(predictBefore.Stdout, predictIgnored.Stdout);
    }

    [Fact]
    public void CalibrateFlagErrorsAreOneLineWithExitCode2()
    {
        var ckpt = Checkpoint("flags");
        var before = File.ReadAllBytes(ckpt);
        var otherClasses = Path.Combine(data.Root, "calib-other", "dog");
        Directory.CreateDirectory(otherClasses);
        File.Copy(Directory.GetFiles(Path.Combine(data.Test, "ant"))[0], Path.Combine(otherClasses, "0.jpg"), overwrite: true);
        var emptyClass = Directory.CreateDirectory(Path.Combine(data.Root, "calib-empty", "ant")).Parent!.FullName;
        var cases = new (string[] Args, string Message)[]
        {
            (new[] { "calibrate", "--val_dir", data.Train }, "--ckpts: is required"),
            (new[] { "calibrate", "--ckpts", "/nonexistent.safetensors", "--val_dir", data.Train }, "--ckpts: file not found: /nonexistent.safetensors"),
            (new[] { "calibrate", "--ckpts", ckpt }, "--val_dir: is required (or --val_list)"),
            (new[] { "calibrate", "--ckpts", ckpt, "--val_dir", "/nonexistent" }, "--val_dir: folder not found: /nonexistent"),
            (new[] { "calibrate", "--ckpts", ckpt, "--val_dir", data.Train, "--batch_size", "0" }, "--batch_size: must be at least 1"),
            (new[] { "calibrate", "--ckpts", ckpt, "--val_dir", data.Train, "--workers", "-1" }, "--workers: must be 0 (all cores) or more"),
            (new[] { "calibrate", "--ckpts", ckpt, "--val_dir", data.Train, "--ece_bins", "0" }, "--ece_bins: must be at least 1"),
            (new[] { "calibrate", "--ckpts", data.Source, "--val_dir", data.Train }, $"{data.Source}: not a Smile checkpoint (no smile_format metadata); plain weights are read with --pretrained"),
            (new[] { "calibrate", "--ckpts", ckpt, "--val_dir", Path.GetDirectoryName(otherClasses)! }, $"{Path.GetDirectoryName(otherClasses)}: class 'dog' is not one of the model's 3 classes"),
            (new[] { "calibrate", "--ckpts", ckpt, "--val_dir", emptyClass }, null!),
            (new[] { "test", "--test_dir", data.Test, "--ckpts", ckpt, "--ece_bins", "0" }, "--ece_bins: must be at least 1"),
        };
        foreach (var (args, message) in cases)
        {
            var r = SmileProcess.Run(args);
            Assert.True(r.ExitCode == 2, $"{string.Join(' ', args)}: {r.Describe()} {r.Stdout} {r.Stderr}");
            var line = Assert.Single(r.Stderr.Trim().Split('\n'));
            if (message is null) Assert.StartsWith($"error: {emptyClass}: no images", line);
            else Assert.Equal("error: " + message, line);
        }
        Assert.Equal(before, File.ReadAllBytes(ckpt)); // no failed calibration touched the checkpoint
        Assert.Null(Smile.Weights.Checkpoint.ReadInfo(ckpt).Temperature);
    }

    [Fact]
    public void TestWritesTheReliabilityDiagramAndTheConfusionMatrix()
    {
        var model = Checkpoint("plots");
        var calibrate = SmileProcess.Run("calibrate", "--ckpts", model, "--val_dir", data.Test);
        Assert.True(calibrate.ExitCode == 0, calibrate.Stderr);
        var folder = Path.Combine(data.Root, "plots-out");
        var r = SmileProcess.Run("test", "--test_dir", data.Test, "--ckpts", model, "--plots", folder);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains($"wrote {Path.Combine(folder, "reliability.png")}", r.Stdout);
        AssertPicture(Path.Combine(folder, "reliability.png"), 900, 900);
        AssertPicture(Path.Combine(folder, "confusion.png"), 1000, 1000);
    }

    // Nine test images fill few bins, so the bars of a full chart are missing: a lower bar than PngCheck's for
    // "not blank" (ScottPlot's empty plot has about 200 colours), with the size and background checks the same.
    private static void AssertPicture(string path, int width, int height)
    {
        using var bitmap = SkiaSharp.SKBitmap.Decode(path);
        Assert.NotNull(bitmap);
        Assert.Equal((width, height), (bitmap.Width, bitmap.Height));
        var pixels = bitmap.Pixels;
        Assert.True(pixels.Distinct().Count() >= 250, $"{path}: {pixels.Distinct().Count()} distinct colours");
        Assert.True(pixels.GroupBy(p => p).Max(g => g.Count()) < pixels.Length * 0.95, $"{path}: nearly one colour");
    }
}

using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Smile.Tests.Cli;

/// <summary>
/// `smile finetune` run configs (--config), class-balanced sampling (--sampler), class weights (--class_weights) and
/// the preflight (--dry_run), on the tiny generated task of <see cref="TinyTransferFixture"/>.
/// </summary>
public sealed class RunConfigCliTests(TinyTransferFixture data) : IClassFixture<TinyTransferFixture>
{
    private string[] Finetune(string save, string regularizer, long maxIters, params string[] extra) =>
        new[]
        {
            "finetune", "--name", "tiny", "--train_dir", data.Train, "--eval_dir", data.Test, "--model_arch", "resnet18",
            "--pretrained", data.Source, "--image_size", "32", "--batch_size", "6", "--batch_size_eval", "4",
            "--max_iters", maxIters.ToString(CultureInfo.InvariantCulture), "--plain_iters", "2",
            "--eval_frequency", "3", "--print_frequency", "1", "--save", save, "--log_dir", Path.Combine(save, "tb"),
            "--regularizer", regularizer, "--seed", "5", "--workers", "2",
        }.Concat(extra).ToArray();

    private static void AssertOk(SmileProcess.Result r, int code = 0) => Assert.True(r.ExitCode == code, r.Describe() + "\n" + r.Stdout + r.Stderr);

    [Fact]
    public void ARunsConfigReproducesItExactlyAndResumesFromIt()
    {
        var first = Path.Combine(data.Root, "config-first");
        AssertOk(SmileProcess.Run(Finetune(first, "smile", 4)));
        var config = Path.Combine(first, "tiny_smile_config.json");
        using (var json = JsonDocument.Parse(File.ReadAllText(config)))
        {
            var root = json.RootElement;
            Assert.Equal(Path.GetFullPath(first), root.GetProperty("save").GetString()); // paths absolute
            Assert.Equal(data.Train, root.GetProperty("train_dir").GetString());
            Assert.Equal(4, root.GetProperty("max_iters").GetInt64());
            Assert.Equal(0.01, root.GetProperty("lr").GetDouble()); // a default, written as used
            Assert.Equal(0.0, root.GetProperty("l2sp_lambda").GetDouble()); // the method's effective default, not "unset"
            Assert.Equal(2, root.GetProperty("plain_iters").GetInt64()); // the method's own settings
            Assert.Equal(0.2, root.GetProperty("alpha").GetDouble());
            Assert.Equal("random", root.GetProperty("sampler").GetString());
            Assert.Equal(JsonValueKind.Null, root.GetProperty("class_weights").ValueKind);
            foreach (var absent in new[] { "resume", "stop_after", "config", "dry_run", "smoothing", "teacher" }) // session flags, other methods' settings
                Assert.False(root.TryGetProperty(absent, out _), absent);
        }

        // The config alone, into another folder: the same checkpoints, bit for bit.
        var again = Path.Combine(data.Root, "config-again");
        AssertOk(SmileProcess.Run("finetune", "--config", config, "--save", again, "--log_dir", Path.Combine(again, "tb")));
        CheckpointAssert.SameWeights(Path.Combine(first, "tiny_smile_Best.safetensors"), Path.Combine(again, "tiny_smile_Best.safetensors"));
        CheckpointAssert.SameWeights(Path.Combine(first, "tiny_smile_Last.safetensors"), Path.Combine(again, "tiny_smile_Last.safetensors"));
        var rewritten = File.ReadAllText(Path.Combine(again, "tiny_smile_config.json"));
        Assert.Equal(File.ReadAllText(config).Replace(Path.GetFullPath(first), Path.GetFullPath(again)), rewritten);

        // Stopped after 2, then resumed with the config: a config that would change the run is refused, the same one
        // continues to the weights of the straight run.
        var split = Path.Combine(data.Root, "config-split");
        string[] FromConfig(string file, params string[] extra) => new[] { "finetune", "--config", file, "--save", split, "--log_dir", Path.Combine(split, "tb") }.Concat(extra).ToArray();
        AssertOk(SmileProcess.Run(FromConfig(config, "--stop_after", "2")), 130);
        var changed = Path.Combine(data.Root, "config-changed.json");
        File.WriteAllText(changed, File.ReadAllText(config).Replace("\"max_iters\": 4", "\"max_iters\": 5").Replace("\"lr\": 0.01", "\"lr\": 0.02"));
        var refused = SmileProcess.Run(FromConfig(changed, "--resume"));
        Assert.Equal(2, refused.ExitCode);
        Assert.Equal($"error: --config: {changed} would change the run being resumed ({Path.Combine(split, "tiny_smile_Last.safetensors")}): " +
            "max_iters 5 (the run has 4); lr 0.02 (the run has 0.01); a resumed run keeps its settings (a flag given on the command line changes one on purpose)",
            refused.Stderr.Trim());
        AssertOk(SmileProcess.Run(FromConfig(config, "--resume")));
        CheckpointAssert.SameWeights(Path.Combine(first, "tiny_smile_Last.safetensors"), Path.Combine(split, "tiny_smile_Last.safetensors"));

        // The preflight's size estimates against the files the run wrote (student; student, momentum and mean teacher).
        var dry = SmileProcess.Run(Finetune(Path.Combine(data.Root, "config-dry"), "smile", 4, "--dry_run"));
        AssertOk(dry);
        var sizes = Regex.Match(dry.Stdout, @"_Best about ([\d.]+) MiB, _Last about ([\d.]+) MiB");
        Assert.True(sizes.Success, dry.Stdout);
        Assert.Equal(new FileInfo(Path.Combine(first, "tiny_smile_Best.safetensors")).Length / 1048576.0, double.Parse(sizes.Groups[1].Value, CultureInfo.InvariantCulture), 0.2);
        Assert.Equal(new FileInfo(Path.Combine(first, "tiny_smile_Last.safetensors")).Length / 1048576.0, double.Parse(sizes.Groups[2].Value, CultureInfo.InvariantCulture), 0.2);
    }

    [Theory]
    [InlineData("{\"lerning_rate\": 0.1}", "unknown key 'lerning_rate' (not a flag of `smile finetune`)")]
    [InlineData("{\"lr\": \"0.1\"}", "key 'lr' must be a number, not \"0.1\"")]
    [InlineData("{\"max_iters\": 2.5}", "key 'max_iters' must be a whole number, not 2.5")]
    [InlineData("{\"strict_images\": 1}", "key 'strict_images' must be true or false, not 1")]
    [InlineData("{\"eval_dir\": 3}", "key 'eval_dir' must be a string or null, not 3")]
    [InlineData("{\"early_stop\": \"2\"}", "key 'early_stop' must be a whole number or null, not \"2\"")]
    [InlineData("{\"resume\": true}", "key 'resume' steers one session, not the run: give --resume on the command line")]
    [InlineData("{\"lr\": 0.1, \"lr\": 0.2}", "key 'lr' appears twice")]
    public void AConfigMistakeIsOneLineNamingKeyAndFile(string json, string message)
    {
        var file = Path.Combine(data.Root, $"bad-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, json);
        var save = Path.Combine(data.Root, "config-bad");
        var r = SmileProcess.Run(Finetune(save, "l2", 2, "--config", file));
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: --config: {file}: {message}", r.Stderr.Trim());
        Assert.False(Directory.Exists(save), "nothing may be written before the config is checked");
    }

    [Fact]
    public void NotJsonOrNotAnObjectIsOneLine()
    {
        var file = Path.Combine(data.Root, "not-json.json");
        File.WriteAllText(file, "{\"lr\": 0.1,\n \"wd\": }");
        var r = SmileProcess.Run(Finetune(Path.Combine(data.Root, "config-bad"), "l2", 2, "--config", file));
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith($"error: --config: {file} is not valid JSON (line 2: ", r.Stderr.Trim());
        Assert.Single(r.Stderr.Trim().Split('\n'));
        File.WriteAllText(file, "[1, 2]");
        r = SmileProcess.Run(Finetune(Path.Combine(data.Root, "config-bad"), "l2", 2, "--config", file));
        Assert.Equal($"error: --config: {file} must hold one JSON object of flag names and values, not a array", r.Stderr.Trim());
    }

    [Fact]
    public void FlagsOnTheCommandLineOverrideTheConfigAndTheDryRunWritesNothing()
    {
        var file = Path.Combine(data.Root, "partial.json");
        File.WriteAllText(file, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["name"] = "partial", ["train_dir"] = data.Train, ["eval_dir"] = data.Test, ["model_arch"] = "resnet18", ["pretrained"] = data.Source,
            ["image_size"] = 32, ["batch_size"] = 6, ["max_iters"] = 9, ["regularizer"] = "mixup", ["alpha"] = 0.4,
        }));
        var save = Path.Combine(data.Root, "dry-save");
        Directory.CreateDirectory(save);
        var r = SmileProcess.Run("finetune", "--config", file, "--max_iters", "5", "--save", save, "--log_dir", Path.Combine(data.Root, "dry-tb"), "--dry_run");
        AssertOk(r);
        var lines = r.Stdout.Split('\n');
        Assert.Contains("Classes (3): ant, bee, cat", lines);
        Assert.Contains($"Training: 18 images in {data.Train} (ant 6, bee 6, cat 6); sampler random", lines);
        Assert.Contains($"Validation: 9 images of 3 classes in {data.Test}, every 500 iterations and after the last, best by acc", lines);
        Assert.Contains(lines, l => l.StartsWith("Schedule: 5 iterations, batch 6, 3 batches per epoch (1.67 epochs); sgd, lr 0.01 (step)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("Model: resnet18, ", StringComparison.Ordinal) && l.EndsWith($"from {data.Source}; device cpu", StringComparison.Ordinal));
        Assert.Contains("  settings: cls_lambda 0.0001, l2sp_lambda 0, alpha 0.4", lines);
        Assert.Contains(lines, l => l.StartsWith($"Files: {Path.Combine(save, "partial_mixup_Best.safetensors")}, ", StringComparison.Ordinal));
        Assert.Empty(Directory.EnumerateFileSystemEntries(save)); // nothing written, not even the log
        Assert.False(Directory.Exists(Path.Combine(data.Root, "dry-tb")));
    }

    [Fact]
    public void TheDryRunFindsABrokenClassAndABadWeightsFile()
    {
        var train = Path.Combine(data.Root, "broken-train");
        TinyFolders.Write(train, ["ant", "bee"], 4, 100);
        var cat = Directory.CreateDirectory(Path.Combine(train, "cat")).FullName;
        File.WriteAllBytes(Path.Combine(cat, "0.jpg"), [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]);
        var save = Path.Combine(data.Root, "broken-save");
        var args = Finetune(save, "l2", 2, "--dry_run").ToList();
        args[args.IndexOf("--train_dir") + 1] = train;
        var r = SmileProcess.Run(args.ToArray());
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: {cat}: class 'cat' has no readable image (1 tried)", r.Stderr.Trim());

        var weights = Path.Combine(data.Root, "weights.csv");
        File.WriteAllText(weights, "ant,1\nbee,2\ndog,1\n");
        r = SmileProcess.Run(Finetune(save, "l2", 2, "--dry_run", "--class_weights", weights));
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: {weights} line 3: unknown class 'dog' (the training folder's classes: ant, bee, cat)", r.Stderr.Trim());
        r = SmileProcess.Run(Finetune(save, "l2", 2, "--dry_run", "--class_weights", Path.Combine(data.Root, "none.csv")));
        Assert.Equal($"error: --class_weights: file not found: {Path.Combine(data.Root, "none.csv")}", r.Stderr.Trim());
        r = SmileProcess.Run(Finetune(save, "l2", 2, "--dry_run", "--sampler", "uniform"));
        Assert.Equal("error: --sampler: must be random or balanced, not 'uniform'", r.Stderr.Trim());
        Assert.False(Directory.Exists(save));
    }

    [Fact]
    public void BalancedSamplingWithClassWeightsResumesExactly()
    {
        // An unbalanced task: 9, 3 and 2 images. mixup, so the weighted mixed CE is the loss that trains.
        var train = Path.Combine(data.Root, "unbalanced");
        TinyFolders.Write(train, ["cat"], 2, TinyFolders.Write(train, ["bee"], 3, TinyFolders.Write(train, ["ant"], 9, 200)));
        string[] Run(string save, params string[] extra)
        {
            var args = Finetune(save, "mixup", 6, ["--sampler", "balanced", "--class_weights", "balanced", .. extra]).ToList();
            args[args.IndexOf("--train_dir") + 1] = train;
            return args.ToArray();
        }
        var straight = Path.Combine(data.Root, "balanced-straight");
        var a = SmileProcess.Run(Run(straight));
        AssertOk(a);
        // n_samples / (n_classes * count): 14 / 27, 14 / 9, 14 / 6.
        Assert.Contains("Class weights (balanced: n_samples / (n_classes * count)): ant 0.5185, bee 1.556, cat 2.333", a.Stderr);

        var split = Path.Combine(data.Root, "balanced-split");
        AssertOk(SmileProcess.Run(Run(split, "--stop_after", "3")), 130); // mid-epoch: 2 batches per epoch
        AssertOk(SmileProcess.Run(Run(split, "--resume")));
        CheckpointAssert.SameWeights(Path.Combine(straight, "tiny_mixup_Last.safetensors"), Path.Combine(split, "tiny_mixup_Last.safetensors"));
    }
}

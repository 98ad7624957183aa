using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Smile.Data;
using Smile.Models;
using Smile.Weights;
using Smile.WeakShot;

namespace Smile.Tests.Cli;

/// <summary>Tiny base classes (ant, bee, cat: 6 images each), novel web images (dog, eel), and a base classifier
/// trained on them by `smile finetune` (shallow CNN, 2 iterations: only its format and classes matter here).</summary>
public sealed class TinySimTransFixture : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("smile-simtrans-").FullName;
    public string Base => Path.Combine(Root, "base");
    public string Web => Path.Combine(Root, "web");
    public string Classifier => Path.Combine(Root, "classifier", "base_l2_Best.safetensors");

    public TinySimTransFixture()
    {
        TinyFolders.Write(Web, ["dog", "eel"], 4, TinyFolders.Write(Base, ["ant", "bee", "cat"], 6, 0));
        var r = SmileProcess.Run("finetune", "--name", "base", "--train_dir", Base, "--val_split", "0.34", "--model_arch", "shallow_cnn",
            "--regularizer", "l2", "--image_size", "32", "--batch_size", "6", "--max_iters", "2", "--eval_frequency", "2",
            "--save", Path.GetDirectoryName(Classifier)!, "--log_dir", Path.Combine(Root, "tb"), "--workers", "2", "--seed", "1");
        if (r.ExitCode != 0) throw new InvalidOperationException(r.Stdout + r.Stderr);
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

public sealed class SimTransCliTests(TinySimTransFixture data) : IClassFixture<TinySimTransFixture>
{
    private string[] TrainSimNet(string save, int epochs, params string[] extra) =>
        new[]
        {
            "simtrans", "train-simnet", "--base_dir", data.Base, "--pretrained", data.Classifier, "--image_size", "32",
            "--classes_per_batch", "3", "--batch_size", "6", "--epochs", epochs.ToString(CultureInfo.InvariantCulture), "--lr", "0.02",
            "--val_split", "0.34", "--print_frequency", "1", "--save", save, "--log_dir", Path.Combine(save, "tb"), "--workers", "2", "--seed", "4",
        }.Concat(extra).ToArray();

    [Fact]
    public void TrainsInBf16EndToEndAndSaysSo()
    {
        var save = Path.Combine(data.Root, "bf16");
        var r = SmileProcess.Run(TrainSimNet(save, 1, "--precision", "bf16"));
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        Assert.Contains(", precision bf16", r.Stderr);
        Assert.Matches(@"Epoch\[01/01\] validation pairs: F1 [\d.]+", r.Stderr);
        Assert.Equal("bf16", SimNetCheckpoint.ReadInfo(Path.Combine(save, "simnet_Best.safetensors")).Arguments["precision"]);
    }

    [Fact]
    public void TrainsFromAFinetunedBaseClassifierAndWritesBestAndLastSimNets()
    {
        var save = Path.Combine(data.Root, "plain");
        var r = SmileProcess.Run(TrainSimNet(save, 2));
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        Assert.Matches(@"done: 2 epochs, best validation pair F1 [\d.]+ at epoch [12] \(.*simnet_Best\.safetensors\)", r.Stdout);
        Assert.Matches(@"Epoch\[02/02\] Step\[0001/0002\] simnet loss [\d.]+ \(sim [\d.]+\) pair acc [\d.]+ lr [\d.]+ [\d.]+ images/s", r.Stderr);
        Assert.Matches(@"Epoch\[02/02\] validation pairs: F1 [\d.]+, precision [\d.]+, recall [\d.]+, pair loss [\d.]+ \(\d+ pairs, \d+ similar\)", r.Stderr);

        foreach (var kind in new[] { "Best", "Last" })
        {
            var (net, info, extra) = SimNetCheckpoint.Load(Path.Combine(save, $"simnet_{kind}.safetensors"), TorchSharp.torch.CPU);
            using (net)
            {
                Assert.Equal(["ant", "bee", "cat"], info.BaseClasses);
                Assert.Equal("shallow_cnn", info.Architecture); // the classifier's, no --model_arch given
                Assert.Equal(128, info.RelationDim);
                Assert.Equal(32, info.ImageSize);
                Assert.Equal(data.Classifier, info.Arguments["pretrained"]);
                Assert.Equal(kind == "Last", extra.Keys.Any(k => k.StartsWith(Checkpoint.OptimizerPrefix, StringComparison.Ordinal)));
                foreach (var t in extra.Values) t.Dispose();
            }
        }
        Assert.Equal(2, SimNetCheckpoint.ReadInfo(Path.Combine(save, "simnet_Last.safetensors")).Epoch);
        using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(save, "simnet_summary.json"))))
        {
            Assert.Equal("simnet", summary.RootElement.GetProperty("Kind").GetString());
            Assert.Equal(2, summary.RootElement.GetProperty("Epochs").GetInt32());
        }
        Assert.True(File.Exists(Path.Combine(save, "simnet.txt")));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(save, "tb", "simnet"), "events.out.tfevents.*"));
        Assert.Empty(Directory.GetFiles(save, "*.tmp*")); // atomic writes leave nothing behind
    }

    [Fact]
    public void TheAdversarialOptionRunsOnWebPairsFromAPlainStateDict()
    {
        // A plain state dict (no class names): accepted with a warning, its classifier head not loaded.
        var plain = Path.Combine(data.Root, "plain-shallow.safetensors");
        using (var model = ModelFactory.Create("shallow_cnn", 10))
            SafetensorsFile.Write(plain, model.state_dict());
        var save = Path.Combine(data.Root, "adversarial");
        var args = TrainSimNet(save, 1, "--adversarial_weight", "0.1", "--web_dir", data.Web, "--model_arch", "shallow_cnn");
        args[Array.IndexOf(args, "--pretrained") + 1] = plain;
        var r = SmileProcess.Run(args);
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        Assert.Contains("are a plain state dict: their classes cannot be checked", r.Stderr);
        Assert.Matches(@"simnet loss -?[\d.]+ \(sim [\d.]+, disc [\d.]+, disc_acc [\d.]+\)", r.Stderr);
        var (net, info, extra) = SimNetCheckpoint.Load(Path.Combine(save, "simnet_Last.safetensors"), TorchSharp.torch.CPU);
        using (net)
        {
            Assert.Equal("0.1", info.Arguments["adversarial_weight"]); // β is recorded
            Assert.Contains("discriminator.fc1.weight", extra.Keys);
            Assert.Contains(extra.Keys, k => k.StartsWith("discriminator_optimizer.momentum.", StringComparison.Ordinal));
            foreach (var t in extra.Values) t.Dispose();
        }
    }

    [Fact]
    public void ResumeContinuesTheEpochCountWithTheLossesOfAStraightRun()
    {
        var straight = SmileProcess.Run(TrainSimNet(Path.Combine(data.Root, "straight"), 2));
        Assert.True(straight.ExitCode == 0, straight.Stdout + straight.Stderr);
        var save = Path.Combine(data.Root, "resumed");
        var first = SmileProcess.Run(TrainSimNet(save, 1));
        Assert.True(first.ExitCode == 0, first.Stdout + first.Stderr);
        var resumed = SmileProcess.Run(TrainSimNet(save, 2, "--resume"));
        Assert.True(resumed.ExitCode == 0, resumed.Stdout + resumed.Stderr);
        Assert.Contains("Resuming simnet after epoch 1 and 0 step(s) of the next", resumed.Stderr);
        Assert.StartsWith("done: 2 epochs", resumed.Stdout);
        Assert.Equal(2, SimNetCheckpoint.ReadInfo(Path.Combine(save, "simnet_Last.safetensors")).Epoch);
        var expected = Losses(straight.Stderr).Where(l => l.StartsWith("02/", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, expected.Length);
        Assert.Equal(expected, Losses(resumed.Stderr));
    }

    /// <summary>"02/02 0001 simnet loss 0.1234 (sim 0.1234)" from each step line.</summary>
    private static string[] Losses(string log) =>
        Regex.Matches(log, @"Epoch\[(\d+/\d+)\] Step\[(\d+)/\d+\] (simnet loss [\d.]+ \([^)]*\))").Select(m => $"{m.Groups[1]} {m.Groups[2]} {m.Groups[3]}").ToArray();

    [Fact]
    public void AClassifierOfOtherClassesIsOneLineNamingBothClassLists()
    {
        var other = Path.Combine(data.Root, "other-classes.safetensors");
        using (var model = ModelFactory.Create("shallow_cnn", 3))
            Checkpoint.Save(other, model, new CheckpointInfo("shallow_cnn", ["dog", "eel", "fox"], null, 32, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f],
                0, 0, "l2", new Dictionary<string, string>()));
        var args = TrainSimNet(Path.Combine(data.Root, "mismatch"), 1);
        args[Array.IndexOf(args, "--pretrained") + 1] = other;
        var r = SmileProcess.Run(args);
        Assert.Equal(2, r.ExitCode);
        var line = Assert.Single(r.Stderr.Trim().Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Equal($"error: {other}: --pretrained was trained on other classes (3: dog, eel, fox) than --base_dir {data.Base} (3: ant, bee, cat)", line);
        Assert.False(File.Exists(Path.Combine(data.Root, "mismatch", "simnet_Last.safetensors")));
    }

    [Theory]
    [InlineData("--adversarial_weight", "0.1", "--web_dir: is required with --adversarial_weight > 0 (the novel web images whose pairs the discriminator tells from base pairs)")]
    [InlineData("--web_dir", "WEB", "--web_dir: is used only with --adversarial_weight > 0")]
    [InlineData("--base_dir", "/nonexistent/base", "--base_dir: folder not found: /nonexistent/base")]
    [InlineData("--val_dir", "BASE", "--val_split: and --val_dir are alternatives: give one validation set")]
    [InlineData("--val_split", "1", "--val_split: must be in [0, 1) (0: no validation)")]
    [InlineData("--pretrained", "/nonexistent/c.safetensors", "--pretrained: file not found: /nonexistent/c.safetensors")]
    [InlineData("--model_arch", "resnet9", "--model_arch: unknown 'resnet9'; known: resnet18, resnet34, resnet50, resnet101, resnet152, densenet121, shallow_cnn")]
    [InlineData("--classes_per_batch", "1", "--classes_per_batch: must be at least 2 (a batch of one class has no dissimilar pairs)")]
    [InlineData("--batch_size", "2", "--batch_size: must be at least --classes_per_batch (3): every chosen class needs an image")]
    [InlineData("--lr", "0", "--lr: must be a positive number")]
    [InlineData("--relation_dim", "0", "--relation_dim: must be at least 1")]
    public void EveryBadFlagIsOneLineNamingItAndExitCode2(string flag, string value, string message)
    {
        value = value switch { "WEB" => data.Web, "BASE" => data.Base, _ => value };
        var save = Path.Combine(data.Root, "bad");
        var args = TrainSimNet(save, 1).ToList();
        int at = args.IndexOf(flag);
        if (at >= 0) args[at + 1] = value;
        else args.AddRange([flag, value]);
        var r = SmileProcess.Run(args.ToArray());
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: " + message, r.Stderr.Trim());
        Assert.False(Directory.Exists(save), "nothing may be written before the flags are checked");
    }

    [Fact]
    public void ADivergingLossStopsWithAClearMessage()
    {
        var args = TrainSimNet(Path.Combine(data.Root, "diverge"), 5);
        args[Array.IndexOf(args, "--lr") + 1] = "1e30";
        var r = SmileProcess.Run(args);
        Assert.Equal(3, r.ExitCode);
        Assert.Matches(@"error: the loss became (NaN|∞|-∞|Infinity|-Infinity) at epoch \d+, step \d+", r.Stderr);
    }
}

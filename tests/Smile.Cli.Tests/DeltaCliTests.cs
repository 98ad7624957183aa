using Smile.Weights;

namespace Smile.Tests.Cli;

/// <summary>The delta method through `smile finetune`: a tiny resnet18 run at 32 x 32 with the attention pre-pass (one head
/// epoch, one ablation batch) that logs its attention, stores its flags and writes a checkpoint `smile test` evaluates;
/// the attention cache, loaded by a second run and by a resumed one, which train bit for bit as the first; the plain
/// feature-map variant; and bad values refused in one line naming the flag (exit 2).</summary>
public sealed class DeltaCliTests(TinyTransferFixture data) : IClassFixture<TinyTransferFixture>
{
    private string[] Finetune(string save, int iterations, params string[] extra) =>
    [
        "finetune", "--name", "tiny", "--train_dir", data.Train, "--eval_dir", data.Test, "--model_arch", "resnet18",
        "--pretrained", data.Source, "--image_size", "32", "--batch_size", "6", "--batch_size_eval", "4",
        "--max_iters", iterations.ToString(System.Globalization.CultureInfo.InvariantCulture), "--eval_frequency", "3",
        "--print_frequency", "1", "--save", save, "--log_dir", Path.Combine(save, "tb"), "--regularizer", "delta",
        "--seed", "5", "--workers", "1", .. extra,
    ];

    [Fact]
    public void DeltaTrainsWithItsAttentionAndItsCheckpointTests()
    {
        var save = Path.Combine(data.Root, "delta");
        var r = SmileProcess.Run(Finetune(save, 3, "--delta_attention_epochs", "1", "--delta_attention_batches", "1", "--delta_alpha", "0.02"));
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        Assert.Matches(@"DELTA attention layer1\.1\.conv2: 64 channels, weights [\d.eE-]+ to [\d.eE-]+", r.Stderr);
        Assert.Matches(@"DELTA attention layer4\.1\.conv2: 512 channels", r.Stderr);
        Assert.Matches(@"Step\[0002/0003\] delta loss [\d.]+ \(main [\d.]+, head [\d.]+, delta [\d.]+\)", r.Stderr);
        var best = Path.Combine(save, "tiny_delta_Best.safetensors");
        var info = Checkpoint.ReadInfo(best);
        Assert.Equal("delta", info.Regularizer);
        Assert.Equal("0.02", info.Arguments["delta_alpha"]);
        Assert.Equal("1", info.Arguments["delta_attention_batches"]);

        var test = SmileProcess.Run("test", "--test_dir", data.Test, "--ckpts", best);
        Assert.True(test.ExitCode == 0, test.Describe() + test.Stderr);
        Assert.Matches(@"Test Loss: [\d.]+, Test Acc@1: [\d.]+", test.Stdout);
    }

    [Fact]
    public void WithoutAttentionThereIsNoPrePass()
    {
        var save = Path.Combine(data.Root, "delta-off");
        var r = SmileProcess.Run(Finetune(save, 2, "--delta_attention", "off"));
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        Assert.DoesNotContain("DELTA attention", r.Stderr);
        Assert.Matches(@"delta loss [\d.]+ \(main [\d.]+, head [\d.]+, delta [\d.]+\)", r.Stderr);
    }

    [Fact]
    public void ASecondRunAndAResumedRunLoadTheCachedAttentionAndTrainAsTheFirst()
    {
        string[] prepass = ["--delta_attention_epochs", "1", "--delta_attention_batches", "1"];
        var first = Path.Combine(data.Root, "delta-cache-first");
        var a = SmileProcess.Run(Finetune(first, 4, prepass));
        Assert.True(a.ExitCode == 0, a.Describe() + a.Stdout + a.Stderr);
        var file = Assert.Single(Directory.GetFiles(first, "delta_attention_*.safetensors"));
        Assert.Matches(@"DELTA attention computed in [\d.]+ s \(1 head epochs, 1 ablation batches\), written to " + System.Text.RegularExpressions.Regex.Escape(file), a.Stderr);

        // Another save folder sharing the file: loaded, not computed, and the same training bit for bit.
        var second = Path.Combine(data.Root, "delta-cache-second");
        var b = SmileProcess.Run(Finetune(second, 4, [.. prepass, "--delta_attention_file", file]));
        Assert.True(b.ExitCode == 0, b.Describe() + b.Stdout + b.Stderr);
        Assert.Contains($"DELTA attention loaded from {file}", b.Stderr);
        Assert.DoesNotContain("DELTA attention computed", b.Stderr);
        CheckpointAssert.SameWeights(Path.Combine(first, "tiny_delta_Last.safetensors"), Path.Combine(second, "tiny_delta_Last.safetensors"));
        CheckpointAssert.SameWeights(Path.Combine(first, "tiny_delta_Best.safetensors"), Path.Combine(second, "tiny_delta_Best.safetensors"));

        // Stopped after 2 iterations (the pre-pass computed and cached in its save folder), then resumed: loaded.
        var interrupted = Path.Combine(data.Root, "delta-cache-interrupted");
        var c1 = SmileProcess.Run(Finetune(interrupted, 4, [.. prepass, "--stop_after", "2"]));
        Assert.True(c1.ExitCode == 130, c1.Describe() + c1.Stdout + c1.Stderr);
        var cached = Path.Combine(interrupted, Path.GetFileName(file)); // the same key as the first run's
        Assert.Contains($"written to {cached}", c1.Stderr);
        var c2 = SmileProcess.Run(Finetune(interrupted, 4, [.. prepass, "--resume"]));
        Assert.True(c2.ExitCode == 0, c2.Describe() + c2.Stdout + c2.Stderr);
        Assert.Contains($"DELTA attention loaded from {cached}", c2.Stderr);
        Assert.DoesNotContain("DELTA attention computed", c2.Stderr);
        CheckpointAssert.SameWeights(Path.Combine(first, "tiny_delta_Last.safetensors"), Path.Combine(interrupted, "tiny_delta_Last.safetensors"));
    }

    [Fact]
    public void AnAttentionFileWithoutAttentionIsRefused()
    {
        var save = Path.Combine(data.Root, "bad-delta-file");
        var r = SmileProcess.Run(Finetune(save, 2, "--delta_attention", "off", "--delta_attention_file", "a.safetensors"));
        Assert.True(r.ExitCode == 2, r.Describe() + r.Stdout + r.Stderr);
        Assert.Equal("error: --delta_attention_file: is used only with --delta_attention on", r.Stderr.Trim());
        Assert.False(Directory.Exists(save));
    }

    [Theory]
    [InlineData("--delta_attention", "maybe", "error: --delta_attention: must be on or off")]
    [InlineData("--delta_attention_batches", "0", "error: --delta_attention_batches: must be 1 or more")]
    [InlineData("--delta_alpha", "-1", "error: --delta_alpha: must be 0 or more")]
    public void ABadValueGivesOneLineNamingTheFlag(string flag, string value, string message)
    {
        var save = Path.Combine(data.Root, $"bad-delta-{flag.TrimStart('-')}");
        var r = SmileProcess.Run(Finetune(save, 2, flag, value));
        Assert.True(r.ExitCode == 2, r.Describe() + r.Stdout + r.Stderr);
        Assert.Equal(message, r.Stderr.Trim());
        Assert.False(Directory.Exists(save));
    }
}

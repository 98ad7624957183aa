using Smile.Weights;

namespace Smile.Tests.Cli;

/// <summary>The delta method through `smile finetune`: a tiny resnet18 run at 32 x 32 with the attention pre-pass (one head
/// epoch, one ablation batch) that logs its attention, stores its flags and writes a checkpoint `smile test` evaluates;
/// the plain feature-map variant; and bad values refused in one line naming the flag (exit 2).</summary>
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

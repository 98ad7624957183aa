using System.Text.Json;
using Smile.Weights;

namespace Smile.Tests.Cli;

/// <summary>The protocol flags through `smile finetune` (tiny resnet18 runs at 32 x 32): a run with the backbone at a tenth
/// of the rate, conv1 and bn1 frozen and RandomResizedCrop finishes with the frozen parts as loaded and out of the
/// optimizer state, stores its settings, resumes exactly, refuses a resume with other frozen parts, and a bad value of
/// each flag is one line naming it (exit 2).</summary>
public sealed class ProtocolCliTests(TinyTransferFixture data) : IClassFixture<TinyTransferFixture>
{
    private static readonly string[] Protocol = ["--backbone_lr_ratio", "0.1", "--freeze", "conv1,bn1", "--train_crop", "random_resized"];

    private string[] Finetune(string save, int iterations, params string[] extra) =>
    [
        "finetune", "--name", "tiny", "--train_dir", data.Train, "--eval_dir", data.Test, "--model_arch", "resnet18",
        "--pretrained", data.Source, "--image_size", "32", "--batch_size", "6", "--batch_size_eval", "4",
        "--max_iters", iterations.ToString(System.Globalization.CultureInfo.InvariantCulture), "--eval_frequency", "3",
        "--print_frequency", "1", "--save", save, "--log_dir", Path.Combine(save, "tb"), "--regularizer", "l2",
        "--seed", "5", "--workers", "2", .. extra,
    ];

    [Fact]
    public void ARunWithEveryKnobFinishesKeepsTheFrozenPartsAndResumesExactly()
    {
        var straight = Path.Combine(data.Root, "protocol-straight");
        var a = SmileProcess.Run(Finetune(straight, 5, Protocol));
        Assert.True(a.ExitCode == 0, a.Describe() + a.Stdout + a.Stderr);
        Assert.Contains("Protocol: backbone learning rate 0.1 x lr; frozen conv1,bn1 (3 parameters, 1 BatchNorm layers in eval mode); training crop random_resized (area 0.08 to 1, aspect 3/4 to 4/3)", a.Stderr);

        var lastPath = Path.Combine(straight, "tiny_l2_Last.safetensors");
        var (info, tensors) = Checkpoint.Load(lastPath);
        var (source, _) = ClassifierWeights.Read(data.Source, withAuxHead: false);
        try
        {
            foreach (var name in new[] { "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var" })
                Assert.True(source[name].allclose(tensors[name], 0, 0), $"{name} changed although frozen");
            Assert.False(source["layer1.0.conv1.weight"].allclose(tensors["layer1.0.conv1.weight"], 0, 0), "the backbone did not train");
            Assert.DoesNotContain(Checkpoint.OptimizerPrefix + "conv1.weight", tensors.Keys);
            Assert.DoesNotContain(Checkpoint.OptimizerPrefix + "bn1.weight", tensors.Keys);
            Assert.Contains(Checkpoint.OptimizerPrefix + "layer1.0.conv1.weight", tensors.Keys);
            Assert.Contains(Checkpoint.OptimizerPrefix + "fc.weight", tensors.Keys);
        }
        finally
        {
            foreach (var t in tensors.Values.Concat(source.Values)) t.Dispose();
        }
        Assert.Equal("0.1", info.Arguments["backbone_lr_ratio"]);
        Assert.Equal("conv1,bn1", info.Arguments["freeze"]);
        Assert.Equal("random_resized", info.Arguments["train_crop"]);
        Assert.Equal("0.08", info.Arguments["train_crop_min_scale"]);
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(straight, "tiny_l2_config.json"))))
        {
            var text = config.RootElement.GetRawText();
            Assert.Contains("\"freeze\": \"conv1,bn1\"", text.Replace("\":\"", "\": \""));
            Assert.Contains("\"train_crop\": \"random_resized\"", text.Replace("\":\"", "\": \""));
        }

        // Stopped after 2 iterations and resumed: the same losses as the straight run from iteration 2 on (crops drawn per
        // (seed, epoch, index), rates per group restored with the momentum).
        var interrupted = Path.Combine(data.Root, "protocol-interrupted");
        var b1 = SmileProcess.Run(Finetune(interrupted, 5, [.. Protocol, "--stop_after", "2"]));
        Assert.True(b1.ExitCode == 130, b1.Describe() + b1.Stdout + b1.Stderr);
        var refused = SmileProcess.Run(Finetune(interrupted, 5, "--backbone_lr_ratio", "0.1", "--freeze", "conv1", "--train_crop", "random_resized", "--resume"));
        Assert.True(refused.ExitCode == 2, refused.Describe() + refused.Stdout + refused.Stderr);
        Assert.Contains("--resume: the checkpoint was trained with --freeze 'bn1,conv1', this run has 'conv1'", refused.Stderr);
        var b2 = SmileProcess.Run(Finetune(interrupted, 5, [.. Protocol, "--resume"]));
        Assert.True(b2.ExitCode == 0, b2.Describe() + b2.Stdout + b2.Stderr);
        var expected = Losses(a.Stderr).Where(p => p.Key >= 2).ToArray();
        Assert.Equal(3, expected.Length);
        Assert.Equal(expected, Losses(b2.Stderr).ToArray());
    }

    private static IEnumerable<KeyValuePair<int, string>> Losses(string log) =>
        System.Text.RegularExpressions.Regex.Matches(log, @"Step\[(\d+)/\d+\] (\S+ loss [\d.]+ \([^)]*\))")
            .Select(m => KeyValuePair.Create(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), m.Groups[2].Value));

    [Theory]
    [InlineData("error: --backbone_lr_ratio: must be a finite number, 0 or more (got -1)", "--backbone_lr_ratio", "-1")]
    [InlineData("error: --freeze: an empty prefix in 'conv1,,bn1': give parameter-name prefixes separated by commas (conv1,bn1,layer1)", "--freeze", "conv1,,bn1")]
    [InlineData("error: --train_crop: must be resize_crop or random_resized, not 'center'", "--train_crop", "center")]
    [InlineData("error: --train_crop_min_scale: must be in (0, 1] (got 0)", "--train_crop", "random_resized", "--train_crop_min_scale", "0")]
    [InlineData("error: --train_crop_min_scale: is for --train_crop random_resized", "--train_crop_min_scale", "0.2")]
    public void ABadValueGivesOneLineNamingTheFlag(string message, params string[] flags)
    {
        var save = Path.Combine(data.Root, "bad-" + string.Join("-", flags).Replace(",", "_").TrimStart('-'));
        var r = SmileProcess.Run(Finetune(save, 2, flags));
        Assert.True(r.ExitCode == 2, r.Describe() + r.Stdout + r.Stderr);
        Assert.Equal(message, r.Stderr.Trim());
        Assert.False(Directory.Exists(save));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void APrefixThatNamesNoParameterIsOneLineNamingTheFlagAndThePrefix(bool dryRun)
    {
        var save = Path.Combine(data.Root, $"bad-prefix-{dryRun}");
        var r = SmileProcess.Run(Finetune(save, 2, dryRun ? ["--freeze", "conv1,layer9", "--dry_run"] : ["--freeze", "conv1,layer9"]));
        Assert.True(r.ExitCode == 2, r.Describe() + r.Stdout + r.Stderr);
        Assert.Contains("error: --freeze: 'layer9' matches no parameter of the resnet18; its parameters start with conv1, bn1, layer1", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr); // no stack trace
        Assert.False(Directory.Exists(save)); // refused before the run wrote anything
    }

    [Fact]
    public void TheDryRunShowsTheProtocol()
    {
        var r = SmileProcess.Run(Finetune(Path.Combine(data.Root, "dry-protocol"), 2, [.. Protocol, "--dry_run"]));
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        Assert.Contains("Protocol: backbone lr 0.1 x lr; frozen conv1,bn1; training crop random_resized (area 0.08 to 1)", r.Stdout);
    }
}

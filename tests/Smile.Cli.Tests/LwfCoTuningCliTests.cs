using Smile.Weights;

namespace Smile.Tests.Cli;

/// <summary>The lwf and cotuning methods through `smile finetune`: tiny resnet18 runs at 32 x 32 from a 10-class source,
/// their terms logged and settings stored, Co-Tuning's relationship estimated before the first step, the best
/// checkpoint evaluated by `smile test`; bad values refused in one line naming the flag (exit 2).</summary>
public sealed class LwfCoTuningCliTests(TinyTransferFixture data) : IClassFixture<TinyTransferFixture>
{
    private string[] Finetune(string save, string method, int iterations, params string[] extra) =>
    [
        "finetune", "--name", "tiny", "--train_dir", data.Train, "--eval_dir", data.Test, "--model_arch", "resnet18",
        "--pretrained", data.Source, "--image_size", "32", "--batch_size", "6", "--batch_size_eval", "4",
        "--max_iters", iterations.ToString(System.Globalization.CultureInfo.InvariantCulture), "--eval_frequency", "2",
        "--print_frequency", "1", "--save", save, "--log_dir", Path.Combine(save, "tb"), "--regularizer", method,
        "--seed", "5", "--workers", "1", .. extra,
    ];

    [Fact]
    public void LwfTrainsWithItsTermAndItsCheckpointIsTested()
    {
        var save = Path.Combine(data.Root, "lwf");
        var r = SmileProcess.Run(Finetune(save, "lwf", 3, "--lwf_lambda", "2", "--lwf_temperature", "2.5"));
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        Assert.Matches(@"Step\[0002/0003\] lwf loss [\d.]+ \(main [\d.]+, lwf [\d.]+, cls [\d.]+\)", r.Stderr);
        var last = Checkpoint.ReadInfo(Path.Combine(save, "tiny_lwf_Last.safetensors"));
        Assert.Equal("lwf", last.Regularizer);
        Assert.Equal("2", last.Arguments["lwf_lambda"]);
        Assert.Equal("2.5", last.Arguments["lwf_temperature"]);
        AssertTested(Path.Combine(save, "tiny_lwf_Best.safetensors"));
    }

    [Theory]
    [InlineData("direct")]
    [InlineData("reverse")]
    public void CoTuningEstimatesItsRelationshipFirstAndItsCheckpointIsTested(string estimate)
    {
        var save = Path.Combine(data.Root, $"cotuning-{estimate}");
        var r = SmileProcess.Run(Finetune(save, "cotuning", 3, "--cotuning_relationship", estimate));
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        int estimated = r.Stderr.IndexOf($"Co-Tuning: estimating the category relationship P(y_s | y_t) ({estimate}) from the pre-trained network on 18 un-augmented training images", StringComparison.Ordinal);
        int ready = r.Stderr.IndexOf("Co-Tuning: relationship of 3 target x 10 source classes ready", StringComparison.Ordinal);
        int firstStep = r.Stderr.IndexOf("Step[0000/0003] cotuning loss", StringComparison.Ordinal);
        Assert.True(estimated >= 0 && ready > estimated && firstStep > ready, r.Stderr);
        Assert.Matches(@"Step\[0002/0003\] cotuning loss [\d.]+ \(main [\d.]+, cotuning [\d.]+, cls [\d.]+\)", r.Stderr);
        var last = Checkpoint.ReadInfo(Path.Combine(save, "tiny_cotuning_Last.safetensors"));
        Assert.Equal(estimate, last.Arguments["cotuning_relationship"]);
        Assert.Equal("2.3", last.Arguments["cotuning_lambda"]);
        Assert.Equal(10, last.AuxClasses); // the source head is kept in the checkpoint; only fc is evaluated
        AssertTested(Path.Combine(save, "tiny_cotuning_Best.safetensors"));
    }

    [Fact]
    public void AResumedCoTuningRunEstimatesTheSameRelationshipAndTrainsAsAStraightOne()
    {
        var straight = Path.Combine(data.Root, "cotuning-straight");
        var a = SmileProcess.Run(Finetune(straight, "cotuning", 4));
        Assert.True(a.ExitCode == 0, a.Describe() + a.Stdout + a.Stderr);
        var interrupted = Path.Combine(data.Root, "cotuning-interrupted");
        var b1 = SmileProcess.Run(Finetune(interrupted, "cotuning", 4, "--stop_after", "2"));
        Assert.True(b1.ExitCode == 130, b1.Describe() + b1.Stdout + b1.Stderr);
        var b2 = SmileProcess.Run(Finetune(interrupted, "cotuning", 4, "--resume"));
        Assert.True(b2.ExitCode == 0, b2.Describe() + b2.Stdout + b2.Stderr);
        Assert.Contains("Co-Tuning: relationship of 3 target x 10 source classes ready", b2.Stderr);
        var expected = Losses(a.Stderr).Where(p => p.Key >= 2).ToArray();
        Assert.Equal(2, expected.Length);
        Assert.Equal(expected, Losses(b2.Stderr).ToArray());
    }

    private static IEnumerable<KeyValuePair<int, string>> Losses(string log) =>
        System.Text.RegularExpressions.Regex.Matches(log, @"Step\[(\d+)/\d+\] (\S+ loss [\d.]+ \([^)]*\))")
            .Select(m => KeyValuePair.Create(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), m.Groups[2].Value));

    private void AssertTested(string checkpoint)
    {
        var test = SmileProcess.Run("test", "--test_dir", data.Test, "--ckpts", checkpoint);
        Assert.True(test.ExitCode == 0, test.Describe() + test.Stdout + test.Stderr);
        Assert.Matches(@"Test Loss: [\d.]+, Test Acc@1: [\d.]+", test.Stdout);
        Assert.Contains("images: 9", test.Stdout);
    }

    [Theory]
    [InlineData("lwf", "--lwf_lambda", "-1", "error: --lwf_lambda: must be 0 or more")]
    [InlineData("lwf", "--lwf_temperature", "0", "error: --lwf_temperature: must be a positive number")]
    [InlineData("cotuning", "--cotuning_relationship", "both", "error: --cotuning_relationship: must be direct or reverse")]
    [InlineData("l2", "--cotuning_lambda", "1", "error: --cotuning_lambda: is used only by the cotuning method, not by l2")]
    public void ABadValueGivesOneLineNamingTheFlag(string method, string flag, string value, string message)
    {
        var save = Path.Combine(data.Root, $"bad-{method}-{flag.TrimStart('-')}");
        var r = SmileProcess.Run(Finetune(save, method, 2, flag, value));
        Assert.True(r.ExitCode == 2, r.Describe() + r.Stdout + r.Stderr);
        Assert.Equal(message, r.Stderr.Trim());
        Assert.False(Directory.Exists(save));
    }

    [Fact]
    public void BothNeedThePretrainedWeights()
    {
        foreach (var method in new[] { "lwf", "cotuning" })
        {
            var args = Finetune(Path.Combine(data.Root, $"nopre-{method}"), method, 2).ToList();
            args.RemoveRange(args.IndexOf("--pretrained"), 2);
            var r = SmileProcess.Run([.. args]);
            Assert.True(r.ExitCode == 2, r.Describe() + r.Stdout + r.Stderr);
            Assert.Contains("--pretrained", r.Stderr);
        }
    }
}

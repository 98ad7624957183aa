using Smile.Weights;

namespace Smile.Tests.Cli;

/// <summary>The bss and rifle methods through `smile finetune`: tiny resnet18 runs at 32 x 32, their flags stored in the
/// checkpoint, RIFLE's re-initialisations logged at the boundaries and a resumed run equal to a straight one, and bad
/// values refused in one line naming the flag (exit 2).</summary>
public sealed class BssRifleCliTests(TinyTransferFixture data) : IClassFixture<TinyTransferFixture>
{
    private string[] Finetune(string save, string method, int iterations, params string[] extra) =>
    [
        "finetune", "--name", "tiny", "--train_dir", data.Train, "--eval_dir", data.Test, "--model_arch", "resnet18",
        "--pretrained", data.Source, "--image_size", "32", "--batch_size", "6", "--batch_size_eval", "4",
        "--max_iters", iterations.ToString(System.Globalization.CultureInfo.InvariantCulture), "--eval_frequency", "4",
        "--print_frequency", "1", "--save", save, "--log_dir", Path.Combine(save, "tb"), "--regularizer", method,
        "--seed", "5", "--workers", "1", .. extra,
    ];

    [Fact]
    public void BssTrainsWithItsTermAndStoresItsSettings()
    {
        var save = Path.Combine(data.Root, "bss");
        var r = SmileProcess.Run(Finetune(save, "bss", 3, "--bss_k", "2", "--bss_eta", "0.01"));
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        var last = Checkpoint.ReadInfo(Path.Combine(save, "tiny_bss_Last.safetensors"));
        Assert.Equal("bss", last.Regularizer);
        Assert.Equal("2", last.Arguments["bss_k"]);
        Assert.Equal("0.01", last.Arguments["bss_eta"]);
        Assert.Matches(@"Step\[0002/0003\] bss loss [\d.]+ \(main [\d.]+, cls [\d.]+, bss [\d.]+\)", r.Stderr);
    }

    [Fact]
    public void RifleReinitialisesAtItsBoundariesAndResumesExactly()
    {
        var straight = Path.Combine(data.Root, "rifle-straight");
        var a = SmileProcess.Run(Finetune(straight, "rifle", 8));
        Assert.True(a.ExitCode == 0, a.Describe() + a.Stdout + a.Stderr);
        // rifle_times 3 over 8 iterations: before iterations 2, 4 and 6.
        var boundaries = System.Text.RegularExpressions.Regex.Matches(a.Stderr, @"RIFLE: fc re-initialised before iteration (\d+)")
            .Select(m => m.Groups[1].Value).ToArray();
        Assert.Equal(["2", "4", "6"], boundaries);

        // Stopped after 4 iterations (0..3), so the resumed run starts on the boundary at 4 and must draw the same head.
        var interrupted = Path.Combine(data.Root, "rifle-interrupted");
        var b1 = SmileProcess.Run(Finetune(interrupted, "rifle", 8, "--stop_after", "4"));
        Assert.True(b1.ExitCode == 130, b1.Describe() + b1.Stdout + b1.Stderr);
        var b2 = SmileProcess.Run(Finetune(interrupted, "rifle", 8, "--resume"));
        Assert.True(b2.ExitCode == 0, b2.Describe() + b2.Stdout + b2.Stderr);
        Assert.Contains("RIFLE: fc re-initialised before iteration 4", b2.Stderr);
        var expected = Losses(a.Stderr).Where(p => p.Key >= 4).ToArray();
        Assert.Equal(4, expected.Length);
        Assert.Equal(expected, Losses(b2.Stderr).ToArray());
    }

    private static IEnumerable<KeyValuePair<int, string>> Losses(string log) =>
        System.Text.RegularExpressions.Regex.Matches(log, @"Step\[(\d+)/\d+\] (\S+ loss [\d.]+ \([^)]*\))")
            .Select(m => KeyValuePair.Create(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), m.Groups[2].Value));

    [Theory]
    [InlineData("bss", "--bss_k", "0", "error: --bss_k: must be 1 or more")]
    [InlineData("bss", "--bss_eta", "-1", "error: --bss_eta: must be 0 or more")]
    [InlineData("rifle", "--rifle_times", "0", "error: --rifle_times: must be 1 or more")]
    [InlineData("l2", "--rifle_period", "5", "error: --rifle_period: is used only by the rifle method, not by l2")]
    public void ABadValueGivesOneLineNamingTheFlag(string method, string flag, string value, string message)
    {
        var save = Path.Combine(data.Root, $"bad-{method}-{flag.TrimStart('-')}");
        var r = SmileProcess.Run(Finetune(save, method, 2, flag, value));
        Assert.True(r.ExitCode == 2, r.Describe() + r.Stdout + r.Stderr);
        Assert.Equal(message, r.Stderr.Trim());
        Assert.False(Directory.Exists(save));
    }

    [Fact]
    public void RifleRefusesBothSchedules()
    {
        var r = SmileProcess.Run(Finetune(Path.Combine(data.Root, "rifle-both"), "rifle", 2, "--rifle_period", "3", "--rifle_times", "2"));
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: --rifle_period: give --rifle_period or --rifle_times, not both", r.Stderr.Trim());
    }
}

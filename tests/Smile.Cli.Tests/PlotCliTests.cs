using Smile.Tests.Plots;
using static TorchSharp.torch;

namespace Smile.Tests.Cli;

/// <summary>`smile plot` on a log dir laid out as finetune lays it out: one folder of event files per regularizer.</summary>
public sealed class PlotCliTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("smile-plot-").FullName;
    public void Dispose() => Directory.Delete(root, recursive: true);

    /// <summary>What Trainer logs: per iteration train_loss, the terms, lr, train_acc; val_* every 50 iterations.</summary>
    private string WriteRun(string regularizer, int iterations, bool evaluate)
    {
        string folder = Path.Combine(root, regularizer);
        var board = utils.tensorboard.SummaryWriter(folder);
        var random = new Random(regularizer.Length);
        for (int i = 0; i < iterations; i++)
        {
            float ce = (float)(2 * Math.Exp(-i / 100.0) + 0.2 * random.NextDouble());
            board.add_scalar("train_loss", ce + 0.1f, i);
            board.add_scalar("train_ce", ce, i);
            board.add_scalar($"train_{regularizer}", 0.1f, i);
            board.add_scalar("lr", (float)(0.01 * (1 + Math.Cos(Math.PI * i / iterations)) / 2), i);
            board.add_scalar("train_acc", (float)Math.Min(1, i / (double)iterations + 0.1 * random.NextDouble()), i);
            if (evaluate && (i % 50 == 0 && i > 0 || i == iterations - 1))
            {
                board.add_scalar("val_loss", (float)(1.0 / (1 + i / 50.0)), i);
                board.add_scalar("val_acc", (float)(i / (double)iterations), i);
            }
        }
        return folder;
    }

    [Fact]
    public void DrawsOnePictureNamedAfterEachRegularizerFolder()
    {
        WriteRun("smile", 300, evaluate: true);
        WriteRun("l2", 250, evaluate: false);
        var r = SmileProcess.Run("plot", "--log_dir", root);
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        string l2 = Path.Combine(root, "l2_curves.png"), smile = Path.Combine(root, "smile_curves.png");
        Assert.Equal([l2, smile], r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        PngCheck.Pixels(l2, 1400, 1000);
        PngCheck.Pixels(smile, 1400, 1000);
    }

    [Fact]
    public void OutIsAFileForOneRunAndAFolderForSeveral()
    {
        string run = WriteRun("smile", 120, evaluate: true);
        WriteRun("l2", 120, evaluate: true);
        string file = Path.Combine(root, "out", "smile.png");
        var one = SmileProcess.Run("plot", "--log-dir", run, "--out", file); // the kebab-case alias too
        Assert.True(one.ExitCode == 0, one.Describe() + one.Stderr);
        Assert.Equal(file, one.Stdout.Trim());
        PngCheck.Pixels(file, 1400, 1000);

        var many = SmileProcess.Run("plot", "--log_dir", root, "--out", Path.Combine(root, "many.png"));
        Assert.Equal(2, many.ExitCode);
        Assert.Equal("error: --out: one file for 2 runs (l2, smile): give a folder", many.Stderr.Trim());

        string folder = Path.Combine(root, "pictures");
        var toFolder = SmileProcess.Run("plot", "--log_dir", root, "--out", folder);
        Assert.True(toFolder.ExitCode == 0, toFolder.Describe() + toFolder.Stderr);
        Assert.Equal(["l2_curves.png", "smile_curves.png"], Directory.GetFiles(folder).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void AMissingLogDirIsOneLineAndExitCode2()
    {
        var r = SmileProcess.Run("plot", "--log_dir", Path.Combine(root, "nope"));
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: --log_dir: folder not found: {Path.Combine(root, "nope")}", r.Stderr.Trim());

        var empty = SmileProcess.Run("plot", "--log_dir", root);
        Assert.Equal(2, empty.ExitCode);
        Assert.StartsWith("error: --log_dir: no events.out.tfevents.* files under", empty.Stderr.Trim());
    }

    [Fact]
    public void AnEmptyOutIsOneLineAndExitCode2()
    {
        WriteRun("l2", 5, evaluate: false);
        var r = SmileProcess.Run("plot", "--log_dir", root, "--out", "");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: --out: is empty: give a .png file or a folder", r.Stderr.Trim());
    }

    [Fact]
    public void ACorruptEventFileIsNamed()
    {
        string run = WriteRun("smile", 20, evaluate: false);
        string file = Assert.Single(Directory.GetFiles(run));
        var bytes = File.ReadAllBytes(file);
        bytes[bytes.Length / 2] ^= 0xff;
        File.WriteAllBytes(file, bytes);
        var r = SmileProcess.Run("plot", "--log_dir", root);
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith($"error: corrupt TensorBoard event file {file}: record ", r.Stderr.Trim());
        Assert.DoesNotContain("\n", r.Stderr.Trim());
    }
}

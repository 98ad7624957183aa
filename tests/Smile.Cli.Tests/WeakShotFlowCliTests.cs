using System.Globalization;
using Smile.WeakShot;

namespace Smile.Tests.Cli;

/// <summary>The three weak-shot verbs end to end on generated data: train-simnet, weights (CSV, contact sheets,
/// separation of known outliers) and finetune with the sample weights and the graph term.</summary>
public sealed class WeakShotFlowCliTests(TinySimTransFixture data) : IClassFixture<TinySimTransFixture>
{
    private string TrainedSimNet(string save)
    {
        var r = SmileProcess.Run("simtrans", "train-simnet", "--base_dir", data.Base, "--pretrained", data.Classifier, "--image_size", "32",
            "--classes_per_batch", "3", "--batch_size", "6", "--epochs", "1", "--val_split", "0.34", "--save", save,
            "--log_dir", Path.Combine(save, "tb"), "--workers", "2", "--seed", "4");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
        return Path.Combine(save, "simnet_Best.safetensors");
    }

    private string[] Finetune(string save, string regularizer, params string[] extra) =>
        new[]
        {
            "finetune", "--name", "web", "--train_dir", data.Web, "--model_arch", "shallow_cnn", "--pretrained", data.Classifier,
            "--image_size", "32", "--batch_size", "4", "--max_iters", "3", "--eval_frequency", "3", "--print_frequency", "1",
            "--save", save, "--log_dir", Path.Combine(save, "tb"), "--regularizer", regularizer, "--workers", "2", "--seed", "2",
        }.Concat(extra).ToArray();

    [Fact]
    public void SimNetWeightsThenWeightedGraphRegularisedFineTuning()
    {
        var save = Path.Combine(data.Root, "flow");
        var simnet = TrainedSimNet(save);

        // Known outliers, as prepare fashion-weak-shot lists them: paths relative to the list's folder.
        var truth = Path.Combine(data.Root, "outliers.csv");
        File.WriteAllLines(truth, new[] { "path,class,is_outlier" }
            .Concat(Directory.GetFiles(data.Web, "*.jpg", SearchOption.AllDirectories).Order()
                .Select(p => $"{Path.GetRelativePath(data.Root, p)},{Path.GetFileName(Path.GetDirectoryName(p))},{(p.EndsWith("0.jpg") ? 1 : 0)}")));
        var csv = Path.Combine(save, "weights", "weights.csv");
        var w = SmileProcess.Run("simtrans", "weights", "--simnet", simnet, "--web_dir", data.Web, "--out", csv, "--truth", truth, "--workers", "2");
        Assert.True(w.ExitCode == 0, w.Describe() + w.Stderr);
        var rows = WeightsCsv.Read(csv);
        Assert.Equal(8, rows.Count);
        foreach (var cls in rows.GroupBy(r => r.Class))
        {
            Assert.Equal(4, cls.Count());
            Assert.InRange(cls.Average(r => r.Weight), 1 - 1e-9, 1 + 1e-9); // normalised to mean 1 per class
        }
        Assert.All(rows, r => Assert.False(Path.IsPathRooted(r.Path))); // portable: relative to the CSV's folder
        var sheets = Directory.GetFiles(Path.Combine(save, "weights", "weights_sheets"), "*.png").Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(2, sheets.Length);
        Assert.StartsWith("dog", sheets[0]);
        Assert.StartsWith("eel", sheets[1]);
        Assert.Matches(@"outlier separation \(ROC AUC of -weight vs is_outlier, .*\): \d\.\d{3}; mean weight clean \d+\.\d{3}, outliers \d+\.\d{3}", w.Stdout);

        var f = SmileProcess.Run(Finetune(Path.Combine(save, "main"), "simtrans", "--sample_weights", csv, "--graph_reg", "0.1", "--simnet", simnet));
        Assert.True(f.ExitCode == 0, f.Describe() + f.Stderr);
        Assert.Contains("Sample weights from", f.Stderr);
        Assert.Matches(@"Step\[0000/0003\] simtrans loss [\d.]+ \(main [\d.]+, cls [\d.]+, graph [\d.]+\)", f.Stderr);
        Assert.True(File.Exists(Path.Combine(save, "main", "web_simtrans_Last.safetensors")));

        // Weights for a method that would ignore them, and a CSV that misses a training image: one line each.
        var l2 = SmileProcess.Run(Finetune(Path.Combine(save, "l2"), "l2", "--sample_weights", csv));
        Assert.Equal(2, l2.ExitCode);
        Assert.Equal("error: --sample_weights: is used only by the simtrans method, not by l2", l2.Stderr.Trim());
        var partial = Path.Combine(save, "weights", "partial.csv");
        File.WriteAllLines(partial, File.ReadAllLines(csv).SkipLast(1));
        var missing = SmileProcess.Run(Finetune(Path.Combine(save, "partial"), "simtrans", "--sample_weights", partial));
        Assert.NotEqual(0, missing.ExitCode);
        var error = missing.Stderr.Trim().Split('\n').Last();
        Assert.Contains("no weight for the training image", error);
        Assert.Contains(Path.GetFileName(rows[^1].Path), error);
    }

    [Fact]
    public void GraphRegularisationWithoutASimNetIsAFlagError()
    {
        var r = SmileProcess.Run(Finetune(Path.Combine(data.Root, "nosimnet"), "simtrans", "--graph_reg", "0.1"));
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: --simnet: --graph_reg needs the SimNet whose similarities build the graph", r.Stderr.Trim());
    }
}

using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Smile.Data;

namespace Smile.Tests.Cli;

/// <summary>`smile test`'s per-class table, confusions, --json figures and --errors CSV on the tiny generated task,
/// checked against counts made here from the CSV and from `smile predict`'s probabilities.</summary>
public sealed class PerClassCliTests(TinyTransferFixture data) : IClassFixture<TinyTransferFixture>
{
    private static readonly object TrainLock = new();
    private static readonly string[] Classes = ["ant", "bee", "cat"];

    /// <summary>A 3-iteration l2 checkpoint of the tiny task (trained once per fixture).</summary>
    private string Checkpoint()
    {
        var save = Path.Combine(data.Root, "perclass-run");
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
        return best;
    }

    private static double Number(string s) => double.Parse(s, CultureInfo.InvariantCulture);

    private sealed record Counted(int Images, int Correct, int Predicted);

    [Fact]
    public void TheTableTheJsonAndTheErrorsCsvAgreeWithCountsMadeFromThePredictions()
    {
        var ckpt = Checkpoint();
        var dir = Directory.CreateDirectory(Path.Combine(data.Root, "perclass-out")).FullName;
        string json = Path.Combine(dir, "test.json"), errors = Path.Combine(dir, "errors.csv");
        var r = SmileProcess.Run("test", "--test_dir", data.Test, "--ckpts", ckpt, "--json", json, "--errors", errors,
            "--per_class", "all", "--confusions", "all");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        var lines = r.Stdout.Split('\n');
        Assert.Matches(@"^Test Loss: [\d.]+, Test Acc@1: [\d.]+, time: [\d.]+$", lines[0]);
        Assert.Matches(@"^Acc@5: [\d.]+, NLL: [\d.]+, ECE \(15 bins\): [\d.]+, images: 9$", lines[1]);
        Assert.DoesNotContain('\u001b', r.Stdout + r.Stderr); // redirected: no status line, no escape sequences
        Assert.DoesNotContain('\r', r.Stdout + r.Stderr);

        // Every image's probabilities from `predict` (a separate forward pass): its predicted class, and which
        // images are misclassified. A near tie (top two within 1e-4) could go either way between the two passes.
        var predict = SmileProcess.Run("predict", "--ckpts", ckpt, "--input", data.Test, "--topk", "3");
        Assert.True(predict.ExitCode == 0, predict.Describe() + predict.Stderr);
        var probabilities = predict.Stdout.Trim().Split('\n').Skip(1).Select(l => l.Split(','))
            .GroupBy(f => f[0]).ToDictionary(g => g.Key, g => g.ToDictionary(f => f[2], f => Number(f[3])));
        Assert.Equal(9, probabilities.Count);
        string TrueClass(string path) => Path.GetFileName(Path.GetDirectoryName(path))!;

        // The errors CSV: its rows are exactly the images predict misclassifies, with predict's probabilities.
        var rows = Csv.Records(errors, File.ReadAllText(errors)).Select(x => x.Fields).ToArray();
        Assert.Equal(["path", "true_class", "predicted_class", "confidence", "true_class_confidence"], rows[0]);
        var wrong = rows.Skip(1).ToDictionary(f => f[0]);
        foreach (var (path, p) in probabilities)
        {
            var ranked = p.OrderByDescending(x => x.Value).ToArray();
            if (ranked[0].Value - ranked[1].Value < 1e-4) continue;
            bool misclassified = ranked[0].Key != TrueClass(path);
            Assert.True(misclassified == wrong.ContainsKey(path), $"{path}: predict says {ranked[0].Key}, the CSV {(wrong.ContainsKey(path) ? "lists" : "does not list")} it");
            if (!misclassified) continue;
            var row = wrong[path];
            Assert.Equal(TrueClass(path), row[1]);
            Assert.Equal(ranked[0].Key, row[2]);
            Assert.Equal(ranked[0].Value, Number(row[3]), 4);
            Assert.Equal(p[row[1]], Number(row[4]), 4);
        }
        Assert.True(wrong.Count > 0, "the 3-iteration model should misclassify some of the 9 images: " + r.Stdout);

        // The per-class counts, made from the CSV and the folder: images per class from the files, right = images - wrong,
        // predicted as c = right of c + wrong rows predicting c.
        var counted = Classes.ToDictionary(c => c, c =>
        {
            int images = Directory.GetFiles(Path.Combine(data.Test, c)).Length;
            int correct = images - wrong.Values.Count(f => f[1] == c);
            return new Counted(images, correct, correct + wrong.Values.Count(f => f[2] == c));
        });

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.Equal(wrong.Count, root.GetProperty("misclassified").GetInt32());
        Assert.Equal(counted.Values.Sum(c => c.Correct) / 9.0, root.GetProperty("top1").GetDouble(), 6);
        Assert.Equal(counted.Values.Average(c => (double)c.Correct / c.Images), root.GetProperty("mean_class_accuracy").GetDouble(), 9);
        var perClass = root.GetProperty("per_class").EnumerateArray().ToArray();
        Assert.Equal(Classes, perClass.Select(e => e.GetProperty("class").GetString()));
        foreach (var e in perClass)
        {
            var c = counted[e.GetProperty("class").GetString()!];
            Assert.Equal((c.Images, c.Correct, c.Predicted), (e.GetProperty("images").GetInt32(), e.GetProperty("correct").GetInt32(), e.GetProperty("predicted").GetInt32()));
            Assert.Equal((double)c.Correct / c.Images, e.GetProperty("accuracy").GetDouble(), 12);
            Assert.Equal((double)c.Correct / c.Images, e.GetProperty("recall").GetDouble(), 12);
            if (c.Predicted == 0) Assert.Equal(JsonValueKind.Null, e.GetProperty("precision").ValueKind);
            else Assert.Equal((double)c.Correct / c.Predicted, e.GetProperty("precision").GetDouble(), 12);
        }
        var confusions = root.GetProperty("confusions").EnumerateArray().ToArray();
        var pairs = wrong.Values.GroupBy(f => (f[1], f[2])).ToDictionary(g => g.Key, g => g.Select(f => f[0]).ToHashSet());
        Assert.Equal(pairs.Count, confusions.Length);
        Assert.Equal(confusions.Select(e => e.GetProperty("images").GetInt32()).OrderDescending(), confusions.Select(e => e.GetProperty("images").GetInt32()));
        foreach (var e in confusions)
        {
            var members = pairs[(e.GetProperty("true_class").GetString()!, e.GetProperty("predicted_class").GetString()!)];
            Assert.Equal(members.Count, e.GetProperty("images").GetInt32());
            var examples = e.GetProperty("examples").EnumerateArray().ToArray();
            Assert.Equal(Math.Min(3, members.Count), examples.Length);
            Assert.All(examples, x => Assert.Contains(x.GetProperty("path").GetString()!, members));
            var confidences = examples.Select(x => x.GetProperty("confidence").GetDouble()).ToArray();
            Assert.Equal(confidences.OrderDescending(), confidences);
        }

        // The terminal table: every class, lowest accuracy first, with the same counts.
        int header = Array.FindIndex(lines, l => l.StartsWith("Per class (3 classes, lowest accuracy first; accuracy = recall", StringComparison.Ordinal));
        Assert.True(header > 1, r.Stdout);
        Assert.Matches(@"^class\s+images\s+correct\s+accuracy\s+precision\s+predicted$", lines[header + 1]);
        var table = lines.Skip(header + 2).Take(3).Select(l => Regex.Split(l.Trim(), @"\s+")).ToArray();
        Assert.Equal(Classes.Order(), table.Select(f => f[0]).Order());
        foreach (var f in table)
        {
            var c = counted[f[0]];
            Assert.Equal([c.Images.ToString(CultureInfo.InvariantCulture), c.Correct.ToString(CultureInfo.InvariantCulture)], f[1..3]);
            Assert.Equal(((double)c.Correct / c.Images).ToString("F4", CultureInfo.InvariantCulture), f[3]);
            Assert.Equal(c.Predicted == 0 ? "n/a" : ((double)c.Correct / c.Predicted).ToString("F4", CultureInfo.InvariantCulture), f[4]);
            Assert.Equal(c.Predicted.ToString(CultureInfo.InvariantCulture), f[5]);
        }
        var accuracies = table.Select(f => Number(f[3])).ToArray();
        Assert.Equal(accuracies.Order(), accuracies);
        Assert.Contains($"Confusions, true -> predicted (all {pairs.Count} pairs; {wrong.Count} of 9 images misclassified):", r.Stdout);
        foreach (var ((truth, predicted), members) in pairs)
            Assert.Matches($@"(?m)^\s+{members.Count}  {truth} -> {predicted}\s+{truth}/\d\.jpg \(\d\.\d\d\)", r.Stdout);
        Assert.Contains($"wrote {errors} ({wrong.Count} misclassified images)", r.Stdout);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp-*"));
    }

    [Fact]
    public void TheDefaultsAndZeroRowsKeepTheFirstLinesAndCutTheTables()
    {
        var ckpt = Checkpoint();
        var one = SmileProcess.Run("test", "--test_dir", data.Test, "--ckpts", ckpt, "--per_class", "1", "--confusions", "1");
        Assert.True(one.ExitCode == 0, one.Describe() + one.Stderr);
        var lines = one.Stdout.Split('\n');
        int header = Array.FindIndex(lines, l => l.StartsWith("Per class: the 1 of 3 classes with the lowest accuracy (--per_class all lists every class", StringComparison.Ordinal));
        Assert.True(header > 1, one.Stdout);
        // One row, then the blank line before the confusions (or the note on a precision that has no value).
        Assert.Matches(@"^(|\(precision n/a: no image was predicted as the class\))$", lines[header + 3]);
        Assert.Single(lines, l => Regex.IsMatch(l, @"^\s+\d+  \w+ -> \w+ "));

        var none = SmileProcess.Run("test", "--test_dir", data.Test, "--ckpts", ckpt, "--per_class", "0", "--confusions", "0");
        Assert.True(none.ExitCode == 0, none.Describe() + none.Stderr);
        Assert.DoesNotContain("Per class", none.Stdout);
        Assert.DoesNotContain("Confusions", none.Stdout);
        // The lines before the tables are the same with and without them.
        Assert.Equal(none.Stdout.Split('\n').Skip(1).TakeWhile(l => l != "").ToArray(), lines.Skip(1).TakeWhile(l => l != "").ToArray());

        var defaults = SmileProcess.Run("test", "--test_dir", data.Test, "--ckpts", ckpt);
        Assert.True(defaults.ExitCode == 0, defaults.Describe() + defaults.Stderr);
        Assert.Contains("Per class (3 classes, lowest accuracy first", defaults.Stdout); // 10 rows by default: all 3 classes
    }

    [Fact]
    public void BadPerClassAndErrorsFlagsAreOneLineWithExitCode2()
    {
        var dir = Directory.CreateDirectory(Path.Combine(data.Root, "perclass-flags")).FullName;
        var fake = Path.Combine(dir, "model.safetensors"); // the flags are checked before the checkpoint is read
        File.WriteAllBytes(fake, [0]);
        var missing = Path.Combine(dir, "missing");
        var cases = new (string[] Args, string Message)[]
        {
            (["--ckpts", fake, "--per_class", "x"], "--per_class: must be a number of rows (0 or more) or all, not 'x'"),
            (["--ckpts", fake, "--per_class", "-1"], "--per_class: must be a number of rows (0 or more) or all, not '-1'"),
            (["--ckpts", fake, "--confusions", "2.5"], "--confusions: must be a number of rows (0 or more) or all, not '2.5'"),
            (["--ckpts", fake, "--errors", ""], "--errors: is empty: give a file name"),
            (["--ckpts", fake, "--errors", Path.Combine(missing, "e.csv")], $"--errors: folder not found: {missing}"),
            (["--ckpts", fake, "--errors", dir], $"--errors: {dir} is a folder, not a file"),
        };
        foreach (var (args, message) in cases)
        {
            var r = SmileProcess.Run(["test", "--test_dir", data.Test, .. args]);
            Assert.True(r.ExitCode == 2, $"{string.Join(' ', args)}: {r.Describe()} {r.Stdout} {r.Stderr}");
            Assert.Equal("error: " + message, Assert.Single(r.Stderr.Trim().Split('\n')));
        }

        // A folder that exists but cannot be written (/proc takes no new files, even from root): found when writing, still one line.
        var unwritable = SmileProcess.Run("test", "--test_dir", data.Test, "--ckpts", Checkpoint(), "--errors", "/proc/smile-errors.csv");
        Assert.True(unwritable.ExitCode == 2, unwritable.Describe() + unwritable.Stdout + unwritable.Stderr);
        Assert.StartsWith("error: --errors: cannot write /proc/smile-errors.csv: ", Assert.Single(unwritable.Stderr.Trim().Split('\n')));
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Smile.Data;

namespace Smile.Tests.Cli;

/// <summary>
/// A small fine-tuning task of real Fashion-MNIST images (Debian's dataset-fashion-mnist, through `smile prepare
/// fashion-mnist`): classes 5, 7 and 9 with 12 training and 6 test images each, class 9 then cut to 4 training images,
/// and `smile split --val_fraction 0.2 --seed 1` of the training folder into list files (10, 10 and 3 training images,
/// 2, 2 and 1 held out). The run is trained once, when a test first asks for it.
/// </summary>
public sealed class FashionMnistTask : IDisposable
{
    public static readonly string[] Classes = ["5_sandal", "7_sneaker", "9_ankle_boot"];
    private readonly Lazy<string> trained;

    public string Root { get; } = Directory.CreateTempSubdirectory("smile-fashion-workflow-").FullName;
    public string Data => Path.Combine(Root, "data");
    public string Lists => Path.Combine(Root, "lists");
    public string TrainList => Path.Combine(Lists, "train.txt");
    public string ValList => Path.Combine(Lists, "val.txt");
    public string ClassesFile => Path.Combine(Lists, "classes.txt");
    /// <summary>What `smile split` printed.</summary>
    public string SplitOutput { get; }
    /// <summary>What the training run (<see cref="Trained"/>) wrote to stderr.</summary>
    public string TrainingLog { get; private set; } = "";

    public FashionMnistTask()
    {
        Ok(SmileProcess.Run("prepare", "fashion-mnist", "--out", Data, "--classes", "5,7,9", "--per_class", "12", "--test_per_class", "6", "--seed", "1"));
        foreach (var extra in Directory.GetFiles(Path.Combine(Data, "train", "9_ankle_boot")).Order(StringComparer.Ordinal).Skip(4)) File.Delete(extra);
        SplitOutput = Ok(SmileProcess.Run("split", Path.Combine(Data, "train"), "--val_fraction", "0.2", "--seed", "1", "--out", Lists)).Stdout;
        trained = new Lazy<string>(() =>
        {
            var save = Path.Combine(Root, "run");
            TrainingLog = Ok(SmileProcess.Run(Finetune(save, 6))).Stderr;
            return save;
        });
    }

    /// <summary>A from-scratch ResNet-18 at 32 px, l2, from the lists, class-balanced sampling and class weights.</summary>
    public string[] Finetune(string save, int iterations, params string[] extra) =>
        new[]
        {
            "finetune", "--name", "fm", "--train_list", TrainList, "--eval_list", ValList, "--classes", ClassesFile,
            "--model_arch", "resnet18", "--image_size", "32", "--batch_size", "8", "--batch_size_eval", "8",
            "--max_iters", iterations.ToString(CultureInfo.InvariantCulture), "--eval_frequency", "3", "--print_frequency", "1",
            "--lr", "0.01", "--regularizer", "l2", "--seed", "1", "--workers", "2", "--sampler", "balanced", "--class_weights", "balanced",
            "--save", save, "--log_dir", Path.Combine(save, "tb"),
        }.Concat(extra).ToArray();

    /// <summary>The --save folder of the 6-iteration run of <see cref="Finetune"/>, trained on the first call.</summary>
    public string Trained => trained.Value;

    public static SmileProcess.Result Ok(SmileProcess.Result r) =>
        r.ExitCode == 0 ? r : throw new InvalidOperationException($"smile: {r.Describe()}\n{r.Stdout}{r.Stderr}");

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>
/// The features fine-tuning users asked for, end to end through the `smile` binary on real Fashion-MNIST images
/// (<see cref="FashionMnistTask"/>): list files from `smile split`, a dry run, balanced sampling with class weights, the
/// run's saved config run again to the same weights, `smile test`'s per-class figures and errors CSV, their mistakes,
/// and the live status line on a real pseudo-terminal (util-linux `script`).
/// </summary>
public sealed class FashionMnistWorkflowCliTests(FashionMnistTask task) : IClassFixture<FashionMnistTask>
{
    private static readonly Regex Timestamp = new(@"\d{4} \d\d:\d\d:\d\d");
    private static readonly Regex StatusText = new(@"iter \d+/\d+ \[|evaluating \[");

    private static SmileProcess.Result Ok(params string[] args)
    {
        var r = SmileProcess.Run(args);
        Assert.True(r.ExitCode == 0, $"smile {string.Join(' ', args)}: {r.Describe()}\n{r.Stdout}{r.Stderr}");
        return r;
    }

    private static void AssertOneLineError(SmileProcess.Result r, string message)
    {
        Assert.True(r.ExitCode == 2, $"{r.Describe()}: {r.Stdout}{r.Stderr}");
        Assert.Equal("error: " + message, Assert.Single(r.Stderr.Trim().Split('\n')));
    }

    /// <summary>Images per class name of a `path label` list written by `smile split`.</summary>
    private static int[] PerClass(string list) =>
        Enumerable.Range(0, FashionMnistTask.Classes.Length).Select(k => File.ReadAllLines(list).Count(l => l.EndsWith($" {k}", StringComparison.Ordinal))).ToArray();

    [Fact]
    public void AnImbalancedRealTaskDryRunsTrainsAndRunsAgainFromItsConfigToTheSameWeights()
    {
        Assert.Contains("Read 28 images of 3 classes", task.SplitOutput);
        Assert.Equal([10, 10, 3], PerClass(task.TrainList));
        Assert.Equal([2, 2, 1], PerClass(task.ValList));
        Assert.Empty(File.ReadAllLines(task.TrainList).Intersect(File.ReadAllLines(task.ValList)));
        Assert.Equal(FashionMnistTask.Classes, File.ReadAllLines(task.ClassesFile));
        // scikit-learn's balanced weights, n_samples / (n_classes * count), of the 10, 10 and 3 training images.
        string weights = string.Join(", ", FashionMnistTask.Classes.Zip(new[] { 10, 10, 3 },
            (c, n) => $"{c} {(23.0 / (3 * n)).ToString("G4", CultureInfo.InvariantCulture)}"));

        // The dry run checks and prints, and writes nothing.
        var drySave = Path.Combine(task.Root, "dry");
        var dry = Ok(task.Finetune(drySave, 6, "--dry_run"));
        var lines = dry.Stdout.Split('\n');
        Assert.Contains("Classes (3): 5_sandal, 7_sneaker, 9_ankle_boot", lines);
        Assert.Contains($"Training: 23 images in {task.TrainList} (5_sandal 10, 7_sneaker 10, 9_ankle_boot 3); sampler balanced", lines);
        Assert.Contains($"Validation: 5 images of 3 classes in {task.ValList}, every 3 iterations and after the last, best by acc", lines);
        Assert.Contains($"Class weights: balanced ({weights})", lines);
        Assert.False(Directory.Exists(drySave), "a dry run writes nothing");

        // The run: its class weights logged, its settings saved with the lists absolute.
        var save = task.Trained;
        Assert.Contains($"Class weights (balanced: n_samples / (n_classes * count)): {weights}", task.TrainingLog);
        Assert.Contains("Run fm_l2: resnet18, 3 classes, 23 training images, regularizer l2, 6 iterations from 0", task.TrainingLog);
        var config = Path.Combine(save, "fm_l2_config.json");
        using (var json = JsonDocument.Parse(File.ReadAllText(config)))
        {
            var root = json.RootElement;
            Assert.Equal(task.TrainList, root.GetProperty("train_list").GetString());
            Assert.Equal(task.ValList, root.GetProperty("eval_list").GetString());
            Assert.Equal(task.ClassesFile, root.GetProperty("classes").GetString());
            Assert.Equal(JsonValueKind.Null, root.GetProperty("train_dir").ValueKind);
            Assert.Equal("balanced", root.GetProperty("sampler").GetString());
            Assert.Equal("balanced", root.GetProperty("class_weights").GetString());
            Assert.Equal(6, root.GetProperty("max_iters").GetInt64());
        }

        // The saved config alone, into another folder: the same checkpoints, bit for bit.
        var again = Path.Combine(task.Root, "again");
        Ok("finetune", "--config", config, "--save", again, "--log_dir", Path.Combine(again, "tb"));
        CheckpointAssert.SameWeights(Path.Combine(save, "fm_l2_Best.safetensors"), Path.Combine(again, "fm_l2_Best.safetensors"));
        CheckpointAssert.SameWeights(Path.Combine(save, "fm_l2_Last.safetensors"), Path.Combine(again, "fm_l2_Last.safetensors"));
    }

    [Fact]
    public void TestOnARealTestListCountsEveryClassAndListsEveryMistake()
    {
        var checkpoint = Path.Combine(task.Trained, "fm_l2_Last.safetensors");
        var testLists = Path.Combine(task.Root, "test-lists");
        Ok("split", Path.Combine(task.Data, "test"), "--out", testLists);
        var output = Directory.CreateDirectory(Path.Combine(task.Root, "test-output")).FullName;
        string json = Path.Combine(output, "test.json"), errors = Path.Combine(output, "errors.csv");
        var r = Ok("test", "--test_list", Path.Combine(testLists, "train.txt"), "--classes", Path.Combine(testLists, "classes.txt"),
            "--ckpts", checkpoint, "--batch_size", "8", "--per_class", "all", "--confusions", "all", "--errors", errors, "--json", json);
        Assert.Matches(@"(?m)^Acc@5: [\d.]+, NLL: [\d.]+, ECE \(15 bins\): [\d.]+, images: 18$", r.Stdout);

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        int misclassified = root.GetProperty("misclassified").GetInt32();
        Assert.True(misclassified > 0, "a 6-iteration model from scratch should misclassify some of the 18 real test images: " + r.Stdout);

        // The errors CSV: one row per misclassified image, true and predicted classes named and different, the true
        // class the image's own folder, every path an existing image.
        var rows = Csv.Records(errors, File.ReadAllText(errors)).Select(x => x.Fields).ToArray();
        Assert.Equal(["path", "true_class", "predicted_class", "confidence", "true_class_confidence"], rows[0]);
        var wrong = rows.Skip(1).ToArray();
        Assert.Equal(misclassified, wrong.Length);
        Assert.Contains($"wrote {errors} ({misclassified} misclassified images)", r.Stdout);
        foreach (var row in wrong)
        {
            Assert.True(File.Exists(row[0]), $"{row[0]} in {errors} does not exist");
            Assert.Equal(Path.GetFileName(Path.GetDirectoryName(row[0])), row[1]);
            Assert.Contains(row[2], FashionMnistTask.Classes);
            Assert.NotEqual(row[1], row[2]);
            Assert.InRange(double.Parse(row[3], CultureInfo.InvariantCulture), 0.333, 1); // the top probability of 3 classes
        }
        Assert.Equal(wrong.Length, wrong.Select(row => row[0]).Distinct().Count());

        // Per class: every class with its 6 images, correct = images less its rows in the CSV, predicted likewise.
        var perClass = root.GetProperty("per_class").EnumerateArray().ToArray();
        Assert.Equal(FashionMnistTask.Classes, perClass.Select(e => e.GetProperty("class").GetString()));
        Assert.Equal(18, perClass.Sum(e => e.GetProperty("images").GetInt32()));
        Assert.Equal(18, perClass.Sum(e => e.GetProperty("predicted").GetInt32()));
        Assert.Equal(18 - misclassified, perClass.Sum(e => e.GetProperty("correct").GetInt32()));
        foreach (var e in perClass)
        {
            string name = e.GetProperty("class").GetString()!;
            int correct = 6 - wrong.Count(row => row[1] == name);
            Assert.Equal(6, e.GetProperty("images").GetInt32());
            Assert.Equal(correct, e.GetProperty("correct").GetInt32());
            Assert.Equal(correct + wrong.Count(row => row[2] == name), e.GetProperty("predicted").GetInt32());
            Assert.Matches($@"(?m)^{name}\s+6\s+{correct}\s", r.Stdout); // --per_class all: every class in the table
        }
        var confusions = root.GetProperty("confusions").EnumerateArray().ToArray();
        Assert.Equal(misclassified, confusions.Sum(e => e.GetProperty("images").GetInt32()));
        Assert.Equal(wrong.Select(row => (row[1], row[2])).Distinct().Count(), confusions.Length);
    }

    [Fact]
    public void AMissingImageInARealListAndAnUnknownConfigKeyAreOneLineNamingFileAndLine()
    {
        var dir = Directory.CreateDirectory(Path.Combine(task.Root, "mistakes")).FullName;
        var lines = File.ReadAllLines(task.TrainList);
        var missing = Path.Combine(task.Data, "train", "7_sneaker", "train_99999.png");
        lines[3] = $"{Path.GetRelativePath(task.Lists, missing)} 1";
        var badList = Path.Combine(task.Lists, "missing.txt");
        File.WriteAllLines(badList, lines);
        var save = Path.Combine(dir, "save");
        string expected = $"{badList} line 4: image not found: {missing}";
        var args = task.Finetune(save, 6);
        args[Array.IndexOf(args, "--train_list") + 1] = badList;
        AssertOneLineError(SmileProcess.Run(args), expected);
        AssertOneLineError(SmileProcess.Run("test", "--test_list", badList, "--classes", task.ClassesFile,
            "--ckpts", Path.Combine(task.Trained, "fm_l2_Last.safetensors")), expected);
        AssertOneLineError(SmileProcess.Run("split", badList, "--classes", task.ClassesFile, "--out", Path.Combine(dir, "split")), expected);

        // The run's own config with a misspelt key.
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(task.Trained, "fm_l2_config.json")))!.AsObject();
        config["lerning_rate"] = 0.05;
        var badConfig = Path.Combine(dir, "config.json");
        File.WriteAllText(badConfig, config.ToJsonString());
        AssertOneLineError(SmileProcess.Run("finetune", "--config", badConfig, "--save", save),
            $"--config: {badConfig}: unknown key 'lerning_rate' (not a flag of `smile finetune`)");

        // A class weights file naming a class the real task lacks.
        var weights = Path.Combine(dir, "weights.csv");
        File.WriteAllText(weights, "5_sandal,1\n7_sneaker,1\n8_bag,2\n");
        args = task.Finetune(save, 6, "--dry_run");
        args[Array.IndexOf(args, "--class_weights") + 1] = weights;
        AssertOneLineError(SmileProcess.Run(args), $"{weights} line 3: unknown class '8_bag' (the training folder's classes: 5_sandal, 7_sneaker, 9_ankle_boot)");

        Assert.False(Directory.Exists(save), "a mistake stops the run before anything is written");
        Assert.False(Directory.Exists(Path.Combine(dir, "split")));
    }

    [Fact]
    public void OnARealTerminalEveryLogLineStandsOnItsOwnLineAboveTheStatusLine()
    {
        // A short run under a pseudo-terminal (stdout and stderr both the terminal), its bytes captured by `script`.
        var save = Path.Combine(task.Root, "terminal");
        var args = task.Finetune(save, 4);
        args[Array.IndexOf(args, "--eval_frequency") + 1] = "2";
        var r = InATerminal(args);
        string bytes = r.Stdout;
        Assert.True(r.ExitCode == 0, $"script: {r.Describe()}\n{bytes}{r.Stderr}");

        // It was a terminal: the status line was drawn, and log lines were written while it was up.
        Assert.Matches(@"\u001b\[2Kiter \d/4 \[", bytes);
        Assert.Matches(@"\u001b\[2Kevaluating \[", bytes);
        Assert.True(Regex.IsMatch(bytes, @"\u001b\[2K(iter \d/4 \[|evaluating \[)[^\r\n]*\r\u001b\[2K\d{4} \d\d:\d\d:\d\d"),
            "no log line was written while a status line was up: " + Regex.Escape(bytes));

        // On the screen: the log file's lines, whole and in order, then the results; no status text left, none glued.
        var screen = TerminalScreen.Lines(TerminalScreen.WithoutModeSwitches(bytes));
        Assert.DoesNotContain(screen, l => StatusText.IsMatch(l));
        Assert.DoesNotContain(screen, l => Timestamp.Matches(l).Count > 1 || (Timestamp.Match(l) is { Success: true } m && m.Index > 0));
        var log = File.ReadAllLines(Path.Combine(save, "fm_l2.txt"));
        Assert.Contains(log, l => l.Contains("Step[0003/0004]", StringComparison.Ordinal));
        Assert.Equal(log, screen.Take(log.Length));
        Assert.Equal(2, screen.Count - log.Length);
        Assert.StartsWith("done: 4 iterations", screen[^2]);
        Assert.StartsWith("summary: ", screen[^1]);
    }

    /// <summary>`smile ARGS` under a pseudo-terminal of util-linux `script` (stdout and stderr both the terminal, TERM=xterm),
    /// what the terminal was sent as the result's stdout.</summary>
    private static SmileProcess.Result InATerminal(string[] args)
    {
        var command = string.Join(' ', new[] { "dotnet", Path.Combine(AppContext.BaseDirectory, "smile.dll") }.Concat(args).Select(Quote));
        var start = new ProcessStartInfo("script") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--quiet", "--flush", "--return", "--command", command, "/dev/null" }) start.ArgumentList.Add(a);
        start.Environment["TERM"] = "xterm";
        start.Environment["SHELL"] = "/bin/sh";
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start script");
        process.StandardInput.Close(); // nothing typed: smile reads no input
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"smile {string.Join(' ', args)} under script did not finish in 5 minutes");
        }
        return new SmileProcess.Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary><paramref name="s"/> single-quoted for /bin/sh.</summary>
    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}

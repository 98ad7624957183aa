using System.Text.RegularExpressions;
using Smile.Weights;
using static TorchSharp.torch;

namespace Smile.Tests.Cli;

/// <summary>List files through the CLI, on the tiny generated folders: a run from lists is the run from the equivalent
/// folders bit for bit, `smile test --test_list` gives --test_dir's figures, `smile split` is stratified, seeded and reads
/// back, and every bad list is one line naming the file and line (exit code 2).</summary>
public sealed class ImageListCliTests(TinyTransferFixture data) : IClassFixture<TinyTransferFixture>
{
    private static readonly string[] Classes = ["ant", "bee", "cat"];

    /// <summary>A 4-iteration run of SMILE (its last iteration plain) reading the given data flags.</summary>
    private string[] Finetune(string save, params string[] dataFlags) => Finetune(save, "smile", 4, dataFlags);

    private string[] Finetune(string save, string regularizer, int iterations, params string[] dataFlags) =>
        new[]
        {
            "finetune", "--name", "tiny", "--model_arch", "resnet18", "--pretrained", data.Source, "--image_size", "32",
            "--batch_size", "6", "--batch_size_eval", "4", "--max_iters", iterations.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--eval_frequency", "2", "--print_frequency", "1", "--save", save, "--log_dir", Path.Combine(save, "tb"),
            "--regularizer", regularizer, "--plain_iters", "1", "--seed", "5", "--workers", "2",
        }.Concat(dataFlags).ToArray();

    private static SmileProcess.Result Ok(params string[] args)
    {
        var r = SmileProcess.Run(args);
        Assert.True(r.ExitCode == 0, $"smile {string.Join(' ', args)}: {r.Describe()}\n{r.Stdout}{r.Stderr}");
        return r;
    }

    /// <summary>The logged training and validation lines, without their time stamps and speeds.</summary>
    private static string[] Trace(string log) =>
        Regex.Matches(log, @"(Step\[\d+/\d+\] \S+ loss [\d.]+ \([^)]*\) train acc [\d.]+)|(Iter\[\d+/\d+\], Validation Loss: [\d.]+, Validation Acc@1: [\d.]+)")
            .Select(m => m.Value).ToArray();

    /// <summary>The test folder as a CSV of class names in <paramref name="folder"/>, paths relative to <paramref name="root"/>
    /// (by default the CSV's folder), its lines in reverse (the order of a list's lines does not matter).</summary>
    private string TestCsv(string folder, string? root = null)
    {
        Directory.CreateDirectory(folder);
        var lines = Classes.SelectMany(c => Directory.GetFiles(Path.Combine(data.Test, c)).Select(f => $"{Path.GetRelativePath(root ?? folder, f)},{c}")).Reverse();
        var csv = Path.Combine(folder, "test.csv");
        File.WriteAllText(csv, "path,class\n" + string.Join("\n", lines) + "\n");
        return csv;
    }

    [Fact]
    public void AFinetuneFromListsIsTheFinetuneFromTheEquivalentFoldersBitForBit()
    {
        var folders = Path.Combine(data.Root, "from-folders");
        var a = Ok(Finetune(folders, "--train_dir", data.Train, "--eval_dir", data.Test));

        var lists = Path.Combine(data.Root, "lists-all");
        Ok("split", data.Train, "--out", lists);
        var train = Path.Combine(lists, "train.txt"); // its lines reversed: the run sorts them as a folder's
        File.WriteAllLines(train, File.ReadAllLines(train).Reverse());
        var fromLists = Path.Combine(data.Root, "from-lists");
        var b = Ok(Finetune(fromLists, "--train_list", Path.Combine(lists, "train.txt"), "--eval_list", TestCsv(lists),
            "--classes", Path.Combine(lists, "classes.txt")));

        Assert.Equal(Trace(a.Stderr), Trace(b.Stderr));
        Assert.Equal(6, Trace(a.Stderr).Length); // 4 steps, 2 evaluations
        CheckpointAssert.SameWeights(Path.Combine(folders, "tiny_smile_Last.safetensors"), Path.Combine(fromLists, "tiny_smile_Last.safetensors"));
        CheckpointAssert.SameWeights(Path.Combine(folders, "tiny_smile_Best.safetensors"), Path.Combine(fromLists, "tiny_smile_Best.safetensors"));
        var info = Checkpoint.ReadInfo(Path.Combine(fromLists, "tiny_smile_Best.safetensors"));
        Assert.Equal(Classes, info.Classes);
        Assert.Equal(Path.Combine(lists, "train.txt"), info.Arguments["train_list"]);
    }

    [Fact]
    public void SplitListsGiveTheRunOfItsOwnHeldOutSplitWithTheSameSeed()
    {
        var own = Path.Combine(data.Root, "own-split");
        var a = Ok(Finetune(own, "l2", 4, "--train_dir", data.Train, "--val_split", "0.34"));

        var lists = Path.Combine(data.Root, "lists-val");
        var split = Ok("split", data.Train, "--val_fraction", "0.34", "--seed", "5", "--out", lists);
        Assert.Contains("Validation: 6 images held out", split.Stdout); // 2 of 6 per class
        var fromLists = Path.Combine(data.Root, "split-lists");
        var b = Ok(Finetune(fromLists, "l2", 4, "--train_list", Path.Combine(lists, "train.txt"), "--eval_list", Path.Combine(lists, "val.txt"),
            "--classes", Path.Combine(lists, "classes.txt")));
        Assert.Equal(Trace(a.Stderr), Trace(b.Stderr));
        CheckpointAssert.SameWeights(Path.Combine(own, "tiny_l2_Last.safetensors"), Path.Combine(fromLists, "tiny_l2_Last.safetensors"));
    }

    [Fact]
    public void TestFromAListGivesTheFolderFiguresAndPredictAndCheckDataReadLists()
    {
        var save = Path.Combine(data.Root, "for-test");
        Ok(Finetune(save, "l2", 2, "--train_dir", data.Train));
        var ckpt = Path.Combine(save, "tiny_l2_Last.safetensors");
        var fromFolder = Ok("test", "--test_dir", data.Test, "--ckpts", ckpt);
        var csv = TestCsv(Path.Combine(data.Root, "test-list"), data.Root);
        var json = Path.Combine(data.Root, "test-list", "test.json");
        var fromList = Ok("test", "--test_list", csv, "--data_root", data.Root, "--ckpts", ckpt, "--json", json);
        static string[] Figures(string stdout) => stdout.Split('\n').Select(l => Regex.Replace(l, @", time: [\d.]+", "")).Take(4).ToArray();
        Assert.Matches(@"Acc@5: [\d.]+, NLL: [\d.]+, ECE \(15 bins\): [\d.]+, images: 9", fromList.Stdout);
        Assert.Equal(Figures(fromFolder.Stdout), Figures(fromList.Stdout));
        Assert.Contains($"\"test_list\": \"{csv}\"", File.ReadAllText(json));

        var predict = Ok("predict", "--ckpts", ckpt, "--input_list", csv, "--data_root", data.Root, "--topk", "1");
        var rows = predict.Stdout.Trim().Split('\n').Skip(1).Select(l => l.Split(',')[0]).ToArray();
        var listed = File.ReadAllLines(csv).Skip(1).Select(l => Path.Combine(data.Root, l.Split(',')[0])).ToArray();
        Assert.Equal(listed, rows); // the list's order

        var check = Ok("check-data", csv, "--data_root", data.Root);
        Assert.Contains("3 classes, 9 images", check.Stdout);
        Assert.Contains("all images readable", check.Stdout);
    }

    [Fact]
    public void SplitIsStratifiedReproducibleBySeedAndItsSubsetsReadBack()
    {
        string Split(string name, params string[] extra)
        {
            var folder = Path.Combine(data.Root, name);
            Ok(new[] { "split", data.Train, "--out", folder }.Concat(extra).ToArray());
            return folder;
        }
        static int[] PerClass(string list) =>
            File.ReadAllLines(list).GroupBy(l => l[(l.LastIndexOf(' ') + 1)..]).OrderBy(g => g.Key).Select(g => g.Count()).ToArray();

        var a = Split("split-a", "--val_fraction", "0.5", "--seed", "1");
        var again = Split("split-a2", "--val_fraction", "0.5", "--seed", "1");
        var other = Split("split-b", "--val_fraction", "0.5", "--seed", "2");
        Assert.Equal([3, 3, 3], PerClass(Path.Combine(a, "val.txt")));
        Assert.Equal([3, 3, 3], PerClass(Path.Combine(a, "train.txt")));
        Assert.Equal(Classes, File.ReadAllLines(Path.Combine(a, "classes.txt")));
        foreach (var file in new[] { "train.txt", "val.txt", "classes.txt" })
            Assert.Equal(File.ReadAllText(Path.Combine(a, file)), File.ReadAllText(Path.Combine(again, file)));
        Assert.NotEqual(File.ReadAllText(Path.Combine(a, "val.txt")), File.ReadAllText(Path.Combine(other, "val.txt")));
        Assert.Empty(File.ReadAllLines(Path.Combine(a, "train.txt")).Intersect(File.ReadAllLines(Path.Combine(a, "val.txt"))));
        Assert.Empty(Directory.GetFiles(a, "*.tmp*"));

        // The subset of a list: a third of the training part of each class, then 1 per class; both read back.
        var third = Split("split-third", "--val_fraction", "0.5", "--seed", "1", "--fraction", "0.34");
        Assert.Equal([1, 1, 1], PerClass(Path.Combine(third, "train.txt")));
        Assert.Equal(File.ReadAllText(Path.Combine(a, "val.txt")), File.ReadAllText(Path.Combine(third, "val.txt")));
        Assert.Subset(File.ReadAllLines(Path.Combine(a, "train.txt")).ToHashSet(), File.ReadAllLines(Path.Combine(third, "train.txt")).ToHashSet());
        var fromList = Path.Combine(data.Root, "split-of-list");
        var r = Ok("split", Path.Combine(a, "train.txt"), "--classes", Path.Combine(a, "classes.txt"), "--per_class", "2", "--out", fromList);
        Assert.Contains("Training: 6 images (6 of 9, at most 2 per class)", r.Stdout);
        Assert.Equal([2, 2, 2], PerClass(Path.Combine(fromList, "train.txt")));
        var check = Ok("check-data", Path.Combine(fromList, "train.txt"), "--classes", Path.Combine(fromList, "classes.txt"));
        Assert.Contains("3 classes, 6 images", check.Stdout);
        Assert.Matches(@"\s2\s+ant", check.Stdout);
    }

    [Fact]
    public void EveryBadListIsOneLineNamingTheFileAndLineAndNothingIsWritten()
    {
        var dir = Directory.CreateDirectory(Path.Combine(data.Root, "bad-lists")).FullName;
        string List(string name, string text)
        {
            var path = Path.Combine(dir, name);
            File.WriteAllText(path, text);
            return path;
        }
        string image = Path.GetRelativePath(dir, Path.Combine(data.Train, "ant", "0.jpg"));
        var good = List("good.txt", string.Join("\n", Classes.Select((c, i) => $"{Path.GetRelativePath(dir, Path.Combine(data.Train, c, "0.jpg"))} {i}")));
        var missing = List("missing.txt", $"{image} 0\n\nnope.jpg 1\n");
        var malformed = List("malformed.txt", $"{image} 0\n{image}\n");
        var named = List("named.txt", $"{image} ant\n");
        var twice = List("twice.txt", $"{image} 0\n./{image} 0\n");
        var empty = List("empty.txt", "\n");
        var unknown = List("unknown.csv", $"path,class\n{image},ant\n{image[..^5]}1.jpg,wasp\n");
        var classes = List("classes.txt", "ant\nbee\n");
        var save = Path.Combine(data.Root, "bad-save");
        var cases = new (string[] Args, string Message)[]
        {
            (Finetune(save, "--train_list", missing), $"{missing} line 3: image not found: {Path.Combine(dir, "nope.jpg")}"),
            (Finetune(save, "--train_list", malformed), $"{malformed} line 2: expected 'path label' (an image path, a space, a class index), found '{image}'"),
            (Finetune(save, "--train_list", named), $"{named} line 1: label 'ant' is not a class index (a whole number, 0 or more; class names go in a CSV list with the header path,class)"),
            (Finetune(save, "--train_list", twice), $"{twice} line 2: {Path.Combine(data.Train, "ant", "0.jpg")} is listed twice (first on line 1)"),
            (Finetune(save, "--train_list", empty), $"{empty}: the list is empty (no image listed)"),
            (Finetune(save, "--train_list", good, "--classes", classes), $"{good} line 3: label 2 is out of range: {classes} names 2 classes (labels 0 to 1)"),
            (Finetune(save, "--train_list", unknown, "--classes", classes), $"{unknown} line 3: class 'wasp' is not in {classes} (2 classes)"),
            (Finetune(save, "--train_dir", data.Train, "--eval_list", unknown), $"{unknown} line 3: class 'wasp' is not one of the model's 3 classes"),
            (Finetune(save, "--train_list", Path.Combine(dir, "none.txt")), $"--train_list: file not found: {Path.Combine(dir, "none.txt")}"),
            (Finetune(save, "--train_list", dir), $"--train_list: {dir} is a folder, not a list file (a folder goes to --train_dir)"),
            (Finetune(save, "--train_list", good, "--train_dir", data.Train), "--train_dir and --train_list are alternatives: give one"),
            (Finetune(save), "--train_dir: is required (or --train_list)"),
            (Finetune(save, "--train_dir", data.Train, "--classes", classes), "--classes: is for list files (--train_list, --eval_list), and none is read"),
            (Finetune(save, "--train_list", good, "--data_root", Path.Combine(dir, "nowhere")), $"--data_root: folder not found: {Path.Combine(dir, "nowhere")}"),
            (Finetune(save, "--train_list", good, "--eval_list", good, "--val_split", "0.3"), "--val_split: and --eval_list are alternatives: the held-out part is the validation set (run `smile test` on the test set afterwards)"),
            (["test", "--test_list", missing, "--ckpts", data.Source, "--test_dir", data.Test], "--test_dir and --test_list are alternatives: give one"),
            (["split", data.Train, "--out", Path.Combine(dir, "s"), "--per_class", "2", "--fraction", "0.5"], "--per_class: and --fraction are alternatives: give one"),
            (["split", data.Train, "--out", Path.Combine(dir, "s"), "--val_fraction", "1"], "--val_fraction: must be in [0, 1) (0: no validation list)"),
            (["split", data.Train, "--out", Path.Combine(dir, "s"), "--fraction", "0"], "--fraction: must be in (0, 1]"),
            (["split", data.Train, "--out", Path.Combine(dir, "s"), "--classes", classes], "--classes: is for a list file, and none is read"),
            (["split", missing, "--out", Path.Combine(dir, "s")], $"{missing} line 3: image not found: {Path.Combine(dir, "nope.jpg")}"),
            (["split", Path.Combine(dir, "none"), "--out", Path.Combine(dir, "s")], $"{Path.Combine(dir, "none")}: no such folder or list file"),
            (["check-data", malformed], $"{malformed} line 2: expected 'path label' (an image path, a space, a class index), found '{image}'"),
        };
        foreach (var (args, message) in cases)
        {
            var r = SmileProcess.Run(args);
            Assert.True(r.ExitCode == 2, $"smile {string.Join(' ', args)}: {r.Describe()} {r.Stdout} {r.Stderr}");
            Assert.Equal("error: " + message, Assert.Single(r.Stderr.Trim().Split('\n')));
        }
        Assert.False(Directory.Exists(save), "a bad list stops the run before anything is written");
        Assert.False(Directory.Exists(Path.Combine(dir, "s")));
    }

    [Fact]
    public void TestNamesAListLineWhoseClassTheCheckpointLacks()
    {
        var save = Path.Combine(data.Root, "for-bad-test");
        Ok(Finetune(save, "l2", 1, "--train_dir", data.Train));
        var list = Path.Combine(data.Root, "numbered.txt");
        File.WriteAllText(list, $"{Path.Combine(data.Test, "bee", "0.jpg")} 0\n");
        var r = SmileProcess.Run("test", "--test_list", list, "--ckpts", Path.Combine(save, "tiny_l2_Last.safetensors"));
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: {list} line 1: class '0' is not one of the model's 3 classes (without a classes file a class index is named by its number)",
            Assert.Single(r.Stderr.Trim().Split('\n')));
    }
}

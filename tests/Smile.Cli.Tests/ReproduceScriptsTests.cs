using System.Diagnostics;
using Smile.Data;

namespace Smile.Tests.Cli;

/// <summary>
/// scripts/reproduce/*.sh: the dry run prints the reference's setting exactly, and the scripts run end to end
/// (prepare skipped: the generated roots already are train/ + test/) with a handful of iterations; comparison.sh's
/// dry run prepares the data and weights where scripts/reproduce/comparison.json reads them (its 63 runs are
/// checked by SweepCliTests).
/// </summary>
public sealed class ReproduceScriptsTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("smile-repro-").FullName;
    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private static (int Exit, string Stdout, string Stderr) Bash(string script, IDictionary<string, string> env, params string[] args)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = RepoRoot.Path };
        start.ArgumentList.Add(Path.Combine(RepoRoot.Path, "scripts", "reproduce", script));
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (k, v) in env) start.Environment[k] = v;
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(10))) { p.Kill(true); throw new TimeoutException(script); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void DryRunPrintsThePapersSettingForEveryDataset()
    {
        var r = Bash("all.sh", new Dictionary<string, string> { ["OUT"] = Path.Combine(_temp, "out") }, "/data", "/w/resnet50.pth", "--dry-run");
        Assert.True(r.Exit == 0, r.Stderr);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(9, lines.Length); // per dataset: prepare, l2, smile
        foreach (var (dataset, folder) in new[] { ("cub", "CUB_200_2011"), ("cars", "stanford_cars"), ("aircraft", "fgvc-aircraft-2013b") })
        {
            string data = Path.Combine(_temp, "out", "data", dataset);
            Assert.Contains($"smile prepare {dataset} --src /data/{folder} --out {data}", lines);
            foreach (var method in new[] { "l2", "smile" })
                Assert.Contains(lines, l => l.StartsWith($"smile finetune --name {dataset} --train_dir {data}/train --eval_dir {data}/test ") &&
                    l.Contains($" --model_arch resnet50 --pretrained /w/resnet50.pth --regularizer {method} --max_iters 9000 --plain_iters 1000 --batch_size 48 ") &&
                    l.Contains(" --image_size 224 --lr 0.01 --eval_frequency 500 "));
        }
        Assert.False(Directory.Exists(Path.Combine(_temp, "out")), "a dry run must not write anything");
    }

    [Fact]
    public void RunsEndToEndOnTinyDataAndWritesTheTable()
    {
        string root = Path.Combine(_temp, "data");
        int seed = 0;
        foreach (var folder in new[] { "CUB_200_2011", "stanford_cars", "fgvc-aircraft-2013b" })
        {
            SyntheticPhotos.WriteImageFolder(Path.Combine(root, folder, "train"), 2, 3, seed++);
            SyntheticPhotos.WriteImageFolder(Path.Combine(root, folder, "test"), 2, 2, seed++);
        }
        string weights = Path.Combine(_temp, "w.safetensors");
        var init = SmileProcess.Run("init", "--model_arch", "resnet18", "--num_classes", "10", "--output", weights);
        Assert.True(init.ExitCode == 0, init.Stderr);

        string output = Path.Combine(_temp, "out");
        var env = new Dictionary<string, string>
        {
            ["SMILE"] = $"dotnet {Path.Combine(AppContext.BaseDirectory, "smile.dll")}", ["OUT"] = output, ["MODEL_ARCH"] = "resnet18",
            ["IMAGE_SIZE"] = "32", ["MAX_ITERS"] = "3", ["PLAIN_ITERS"] = "1", ["BATCH_SIZE"] = "4", ["BATCH_SIZE_EVAL"] = "4",
            ["EVAL_FREQUENCY"] = "3", ["DEVICE"] = "cpu",
        };
        var r = Bash("all.sh", env, root, weights);
        Assert.True(r.Exit == 0, r.Stderr + r.Stdout);

        Assert.Equal(6, Directory.GetFiles(Path.Combine(output, "runs"), "*_summary.json").Length);
        var table = File.ReadAllLines(Path.Combine(output, "results.md"));
        Assert.Equal("|Dataset/Method | L2 | SMILE | paper L2 | paper SMILE |", table[0]);
        Assert.Matches(@"^\|CUB-200-2011 \| \d+\.\d\d \| \d+\.\d\d \| 80\.79 \| 82\.38 \|$", table[2]);
        Assert.Matches(@"^\|Stanford-Cars \| \d+\.\d\d \| \d+\.\d\d \| 90\.72 \| 91\.74 \|$", table[3]);
        Assert.Matches(@"^\|FGVC-Aircraft \| \d+\.\d\d \| \d+\.\d\d \| 86\.93 \| 89\.00 \|$", table[4]);
    }

    [Fact]
    public void TheComparisonDryRunPreparesWhereTheGridReadsAndHandsTheSweepItsOptions()
    {
        string root = Path.Combine(_temp, "roots");
        Directory.CreateDirectory(Path.Combine(root, "stanford_cars", "train")); // cars already is train/ + test/
        Directory.CreateDirectory(Path.Combine(root, "stanford_cars", "test"));
        var r = Bash("comparison.sh", new Dictionary<string, string>(), root, "/w/resnet50.pth", "--dry-run", "--backend", "slurm", "--gres", "gpu:1");
        Assert.True(r.Exit == 0, r.Stderr);
        string out_ = Path.Combine(RepoRoot.Path, "output", "reproduce");
        string grid = Path.Combine(RepoRoot.Path, "scripts", "reproduce", "comparison.json");
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(new[]
        {
            $"smile prepare cub --src {root}/CUB_200_2011 --out {out_}/data/cub",
            $"mkdir -p {out_}/data",
            $"ln -sfn {root}/stanford_cars {out_}/data/cars",
            $"smile prepare aircraft --src {root}/fgvc-aircraft-2013b --out {out_}/data/aircraft",
            $"mkdir -p {out_}/imagenet",
            $"ln -sfn /w/resnet50.pth {out_}/imagenet/resnet50.pth",
            $"smile sweep run {grid} --backend slurm --gres gpu:1", // a Slurm sweep is reported later, with `smile sweep report`
        }, lines);

        var local = Bash("comparison.sh", new Dictionary<string, string>(), root, "/w/resnet50.pth", "--dry-run");
        Assert.True(local.Exit == 0, local.Stderr);
        Assert.EndsWith($"smile sweep run {grid}\nsmile sweep report {grid} --baseline l2 > {out_}/comparison/results.md\n", local.Stdout);
    }

    [Fact]
    public void TheComparisonRefusesMissingWeightsInOneLine()
    {
        var r = Bash("comparison.sh", new Dictionary<string, string>(), _temp, Path.Combine(_temp, "none.pth"));
        Assert.Equal(2, r.Exit);
        Assert.Equal($"error: IMAGENET_WEIGHTS: {Path.Combine(_temp, "none.pth")} is not a file", r.Stderr.Trim());
    }

    [Fact]
    public void WithoutArgumentsItPrintsUsageAndFails()
    {
        var r = Bash("cub.sh", new Dictionary<string, string>());
        Assert.Equal(2, r.Exit);
        Assert.Contains("usage:", r.Stderr);
    }
}

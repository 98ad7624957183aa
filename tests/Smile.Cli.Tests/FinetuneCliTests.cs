using System.Text.Json;
using Smile.Data;
using Smile.Weights;

namespace Smile.Tests.Cli;

/// <summary>A tiny generated ImageFolder and a seeded "pre-trained" ResNet-18 source, shared by the tests of a class.</summary>
public sealed class TinyTransferFixture : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("smile-e2e-").FullName;
    public string Train => Path.Combine(Root, "train");
    public string Test => Path.Combine(Root, "test");
    public string Source => Path.Combine(Root, "source.safetensors");

    public TinyTransferFixture()
    {
        TinyFolders.Write(Test, ["ant", "bee", "cat"], 3, TinyFolders.Write(Train, ["ant", "bee", "cat"], 6, 0));
        var r = SmileProcess.Run("init", "--model_arch", "resnet18", "--num_classes", "10", "--output", Source, "--seed", "1");
        if (r.ExitCode != 0) throw new InvalidOperationException(r.Stderr);
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

public sealed class FinetuneCliTests(TinyTransferFixture data) : IClassFixture<TinyTransferFixture>
{
    private string[] Finetune(string save, string regularizer, long maxIters, params string[] extra) =>
        new[]
        {
            "finetune", "--name", "tiny", "--train_dir", data.Train, "--eval_dir", data.Test, "--model_arch", "resnet18",
            "--pretrained", data.Source, "--image_size", "32", "--batch_size", "6", "--batch_size_eval", "4",
            "--max_iters", maxIters.ToString(System.Globalization.CultureInfo.InvariantCulture), "--plain_iters", "2",
            "--eval_frequency", "3", "--print_frequency", "1", "--save", save, "--log_dir", Path.Combine(save, "tb"),
            "--regularizer", regularizer, "--seed", "5", "--workers", "2",
        }.Concat(extra).ToArray();

    /// <summary>The arguments with the given flags' values replaced (a flag given twice is a usage error).</summary>
    private static string[] With(string[] args, params (string Flag, string Value)[] changes)
    {
        var list = args.ToList();
        foreach (var (flag, value) in changes)
        {
            int at = list.IndexOf(flag);
            if (at >= 0) list[at + 1] = value;
            else list.AddRange(new[] { flag, value });
        }
        return list.ToArray();
    }

    [Theory]
    [InlineData("smile")]
    [InlineData("l2")]
    [InlineData("mixup")]
    [InlineData("l2sp")]
    [InlineData("ls")]
    [InlineData("ils")]
    public void FinetuneTestAndPredictWithEachRegularizer(string regularizer)
    {
        var save = Path.Combine(data.Root, "run-" + regularizer);
        var extra = regularizer == "ils" ? new[] { "--ils_teacher", PlainTeacher(), "--ils_temperature", "2", "--smoothing", "0.15" } : [];
        var r = SmileProcess.Run(Finetune(save, regularizer, 5, extra));
        Assert.True(r.ExitCode == 0, r.Describe() + "\n" + r.Stdout + r.Stderr);
        var best = Path.Combine(save, $"tiny_{regularizer}_Best.safetensors");
        Assert.True(File.Exists(best));
        Assert.True(File.Exists(Path.Combine(save, $"tiny_{regularizer}_Last.safetensors")));
        Assert.True(File.Exists(Path.Combine(save, $"tiny_{regularizer}.txt")));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(save, "tb", regularizer), "events.out.tfevents.*"));
        Assert.Empty(Directory.GetFiles(save, "*.tmp*")); // atomic writes leave nothing behind
        using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(save, $"tiny_{regularizer}_summary.json"))))
            Assert.Equal(5, summary.RootElement.GetProperty("Iterations").GetInt64());
        var info = Checkpoint.ReadInfo(best);
        Assert.Equal(new[] { "ant", "bee", "cat" }, info.Classes);
        Assert.Equal("resnet18", info.Architecture);
        Assert.Equal(regularizer, info.Regularizer);

        var test = SmileProcess.Run("test", "--test_dir", data.Test, "--ckpts", best, "--model_arch", "resnet18", "--json", Path.Combine(save, "test.json"));
        Assert.True(test.ExitCode == 0, test.Describe() + test.Stderr);
        Assert.Matches(@"Test Loss: [\d.]+, Test Acc@1: [\d.]+, time: [\d.]+", test.Stdout);
        Assert.Matches(@"Acc@5: [\d.]+, NLL: [\d.]+, ECE \(15 bins\): [\d.]+, images: 9", test.Stdout);

        var predict = SmileProcess.Run("predict", "--ckpts", best, "--input", data.Test, "--topk", "2");
        Assert.True(predict.ExitCode == 0, predict.Describe() + predict.Stderr);
        var lines = predict.Stdout.Trim().Split('\n');
        Assert.Equal("path,rank,class,probability", lines[0]);
        Assert.Equal(1 + 9 * 2, lines.Length);
        Assert.All(lines.Skip(1), l => Assert.Matches(@",(1|2),(ant|bee|cat),[\d.eE-]+$", l));
    }

    [Theory]
    [InlineData("densenet121")] // head named "classifier", as torchvision's
    [InlineData("shallow_cnn")]
    public void SmileFinetunesTheOtherFamiliesFromTheirOwnCheckpoints(string arch)
    {
        var save = Path.Combine(data.Root, "family-" + arch);
        var source = Path.Combine(save, "source.safetensors");
        Directory.CreateDirectory(save);
        var init = SmileProcess.Run("init", "--model_arch", arch, "--num_classes", "10", "--output", source, "--seed", "1");
        Assert.True(init.ExitCode == 0, init.Stderr);
        var r = SmileProcess.Run(With(Finetune(save, "smile", 3), ("--model_arch", arch), ("--pretrained", source)));
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        var info = Checkpoint.ReadInfo(Path.Combine(save, "tiny_smile_Best.safetensors"));
        Assert.Equal(arch, info.Architecture);
        Assert.Equal(10, info.AuxClasses);
        var test = SmileProcess.Run("test", "--test_dir", data.Test, "--ckpts", Path.Combine(save, "tiny_smile_Best.safetensors"));
        Assert.True(test.ExitCode == 0, test.Stderr);
    }

    [Fact]
    public void DistillTrainsTheShallowCnnFromATeacherAndResumesExactly()
    {
        string[] Distill(string save, params string[] extra) => new[]
        {
            "distill", "--name", "tinyd", "--train_dir", data.Train, "--eval_dir", data.Test, "--teacher", PlainTeacher(),
            "--image_size", "32", "--batch_size", "6", "--batch_size_eval", "4", "--max_iters", "6", "--eval_frequency", "3",
            "--print_frequency", "1", "--save", save, "--log_dir", Path.Combine(save, "tb"), "--seed", "5", "--workers", "2",
        }.Concat(extra).ToArray();

        var straightDir = Path.Combine(data.Root, "distill-straight");
        var a = SmileProcess.Run(Distill(straightDir));
        Assert.True(a.ExitCode == 0, a.Describe() + a.Stdout + a.Stderr);
        Assert.Matches(@"last eval top-1 [\d.]+, NLL [\d.]+", a.Stdout);
        var info = Checkpoint.ReadInfo(Path.Combine(straightDir, "tinyd_kd_Best.safetensors"));
        Assert.Equal("shallow_cnn", info.Architecture);
        Assert.Equal("adam", info.Arguments["optimizer"]);
        Assert.Matches(@"Step\[0000/0006\] kd loss [\d.]+ \(main [\d.]+, kd [\d.]+, cls [\d.]+\)", a.Stderr); // both terms logged

        var splitDir = Path.Combine(data.Root, "distill-split");
        var b1 = SmileProcess.Run(Distill(splitDir, "--stop_after", "4"));
        Assert.True(b1.ExitCode == 130, b1.Describe() + b1.Stderr);
        var b2 = SmileProcess.Run(Distill(splitDir, "--resume"));
        Assert.True(b2.ExitCode == 0, b2.Stdout + b2.Stderr);
        var expected = Losses(a.Stderr).Where(p => p.Key >= 4).ToArray();
        Assert.Equal(2, expected.Length);
        Assert.Equal(expected, Losses(b2.Stderr).ToArray()); // Adam's moments and the dropout draws continue exactly
    }

    private static readonly object TeacherLock = new();

    /// <summary>A checkpoint of the tiny task trained with plain CE (l2): the ILS teacher of the tests.</summary>
    private string PlainTeacher()
    {
        var save = Path.Combine(data.Root, "ils-teacher");
        var path = Path.Combine(save, "tiny_l2_Best.safetensors");
        lock (TeacherLock)
        {
            if (File.Exists(path)) return path;
            var r = SmileProcess.Run(Finetune(save, "l2", 2));
            Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        }
        return path;
    }

    [Fact]
    public void IlsChecksItsTeacher()
    {
        var noTeacher = SmileProcess.Run(Finetune(Path.Combine(data.Root, "ils-none"), "ils", 2));
        Assert.Equal(2, noTeacher.ExitCode);
        Assert.Equal("error: --ils_teacher: the ils method needs a checkpoint of this task trained with plain CE", noTeacher.Stderr.Trim());

        var unused = SmileProcess.Run(Finetune(Path.Combine(data.Root, "ils-unused"), "l2", 2, "--ils_teacher", PlainTeacher()));
        Assert.Equal(2, unused.ExitCode);
        Assert.Equal("error: --ils_teacher: is used only by the ils method, not by l2", unused.Stderr.Trim());

        // A checkpoint of another task (its classes differ) would give wrong targets: refused, naming the file.
        var otherTask = Path.Combine(data.Root, "other-task");
        foreach (var split in new[] { "train", "test" })
            foreach (var cls in new[] { "dog", "eel", "fox" })
                foreach (var f in Directory.GetFiles(Path.Combine(split == "train" ? data.Train : data.Test, "ant")))
                {
                    Directory.CreateDirectory(Path.Combine(otherTask, split, cls));
                    File.Copy(f, Path.Combine(otherTask, split, cls, Path.GetFileName(f)), overwrite: true);
                }
        var otherSave = Path.Combine(data.Root, "other-save");
        var other = SmileProcess.Run(With(Finetune(otherSave, "l2", 2), ("--train_dir", Path.Combine(otherTask, "train")), ("--eval_dir", Path.Combine(otherTask, "test"))));
        Assert.True(other.ExitCode == 0, other.Stderr);
        string foreign = Path.Combine(otherSave, "tiny_l2_Best.safetensors");
        var wrong = SmileProcess.Run(Finetune(Path.Combine(data.Root, "ils-wrong"), "ils", 2, "--ils_teacher", foreign));
        Assert.Equal(2, wrong.ExitCode);
        Assert.Contains(foreign, wrong.Stderr);
        Assert.Contains("trained on other classes", wrong.Stderr);
    }

    [Fact]
    public void ValidationSplitSelectsByNllAndStopsEarly()
    {
        var save = Path.Combine(data.Root, "valsplit");
        var args = Finetune(save, "l2", 20, "--val_split", "0.34", "--select_by", "nll", "--early_stop", "1").ToList();
        int at = args.IndexOf("--eval_dir");
        args.RemoveRange(at, 2);
        var r = SmileProcess.Run(With(args.ToArray(), ("--eval_frequency", "1")));
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Contains("Validation split: 6 of the training folder's images held out", r.Stderr); // 2 of 6 per class
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(save, "tiny_l2_summary.json")));
        var root = summary.RootElement;
        Assert.True(root.GetProperty("EarlyStopped").GetBoolean(), r.Stderr);
        Assert.True(root.GetProperty("Iterations").GetInt64() < 20);
        Assert.Contains("Early stop after iteration", r.Stderr);
        // The kept checkpoint is the evaluation with the lowest validation NLL (the logged loss), not the best top-1.
        var evals = System.Text.RegularExpressions.Regex.Matches(r.Stderr, @"Iter\[(\d+)/\d+\], Validation Loss: ([\d.]+)")
            .Select(m => (Iteration: long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Loss: double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture)))
            .ToList();
        Assert.True(evals.Count >= 2);
        Assert.Equal(evals.OrderBy(e => e.Loss).First().Iteration, root.GetProperty("BestIteration").GetInt64());
    }

    /// <summary>Also channels-last, where the student's weights, their momentum and the mean teacher's are NHWC-strided
    /// views of the flat buffers (Training/CudaSpeed.cs, WeightsToChannelsLast): the checkpoint must hold and restore
    /// their values whatever the strides.</summary>
    [Theory]
    [InlineData("off")]
    [InlineData("on")]
    public void ResumeGivesTheSameLossesAsAnUninterruptedRun(string channelsLast)
    {
        // 8 iterations straight, against a run stopped after 5 (--stop_after writes _Last) and resumed to 8.
        // Same seed, CPU: the logged losses of iterations 5..7 (two of them SMILE's plain tail) must agree.
        var straight = Path.Combine(data.Root, "straight-cl-" + channelsLast);
        var a = SmileProcess.Run(Finetune(straight, "smile", 8, "--channels_last", channelsLast));
        Assert.True(a.ExitCode == 0, a.Stdout + a.Stderr);

        var interrupted = Path.Combine(data.Root, "interrupted-cl-" + channelsLast);
        var b1 = SmileProcess.Run(Finetune(interrupted, "smile", 8, "--channels_last", channelsLast, "--stop_after", "5"));
        Assert.True(b1.ExitCode == 130, b1.Describe() + b1.Stdout + b1.Stderr); // stopped, not finished
        Assert.Contains("Stopped after 5 of 8 iterations", b1.Stderr);
        var b2 = SmileProcess.Run(Finetune(interrupted, "smile", 8, "--channels_last", channelsLast, "--resume"));
        Assert.True(b2.ExitCode == 0, b2.Stdout + b2.Stderr);
        Assert.Contains("Resuming tiny_smile after iteration 4", b2.Stderr);

        var expected = Losses(a.Stderr).Where(p => p.Key >= 5).ToArray();
        var resumed = Losses(b2.Stderr).ToArray();
        Assert.Equal(3, expected.Length);
        Assert.Equal(expected, resumed);
    }

    /// <summary>Iteration and the logged loss line ("Step[0005/0008] smile loss 1.2345 (...)").</summary>
    private static IEnumerable<KeyValuePair<int, string>> Losses(string log) =>
        System.Text.RegularExpressions.Regex.Matches(log, @"Step\[(\d+)/\d+\] (\S+ loss [\d.]+ \([^)]*\))")
            .Select(m => KeyValuePair.Create(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), m.Groups[2].Value));

    [Theory]
    [InlineData("--train_dir", "/nonexistent/train", "--train_dir: folder not found: /nonexistent/train")]
    [InlineData("--eval_dir", "/nonexistent/eval", "--eval_dir: folder not found: /nonexistent/eval")]
    [InlineData("--pretrained", "/nonexistent/w.pth", "--pretrained: file not found: /nonexistent/w.pth")]
    [InlineData("--model_arch", "resnet9", "--model_arch: unknown 'resnet9'; known: resnet18, resnet34, resnet50, resnet101, resnet152, densenet121, shallow_cnn")]
    [InlineData("--regularizer", "nosuch", "--regularizer: unknown 'nosuch'; known: smile, l2, mixup, l2sp, ls, ils, kd, simtrans, bss, rifle, lwf, cotuning, delta")]
    [InlineData("--image_size", "16", "--image_size: must be at least 32")]
    [InlineData("--batch_size", "1", "--batch_size: must be at least 2 (BatchNorm in train mode)")]
    [InlineData("--batch_size_eval", "0", "--batch_size_eval: must be at least 1")]
    [InlineData("--max_iters", "0", "--max_iters: must be at least 1")]
    [InlineData("--plain_iters", "-1", "--plain_iters: must be 0 or more")]
    [InlineData("--lr", "-0.1", "--lr: must be a positive number")]
    [InlineData("--wd", "-1", "--wd: must be 0 or more")]
    [InlineData("--alpha", "-1", "--alpha: must be 0 or more")]
    [InlineData("--alpha", "Infinity", "--alpha: must be finite")]
    [InlineData("--image_size", "100000", "--image_size: must be at most 4096 (a 4096x4096 crop already needs gigabytes per batch)")]
    [InlineData("--save", "", "--save: must name a folder")]
    [InlineData("--name", "../x", "--name: must be a plain file-name part (no folder separators): the run's files go into --save")]
    [InlineData("--ema_decay", "-0.5", "--ema_decay: must be 0 or more (>= 1 turns the EMA off)")]
    [InlineData("--reg_lambda", "-1", "--reg_lambda: must be 0 or more")]
    [InlineData("--aux_lambda", "-1", "--aux_lambda: must be 0 or more")]
    [InlineData("--cls_lambda", "-1", "--cls_lambda: must be 0 or more")]
    [InlineData("--l2sp_lambda", "-1", "--l2sp_lambda: must be 0 or more")]
    [InlineData("--print_frequency", "0", "--print_frequency: must be at least 1")]
    [InlineData("--eval_frequency", "0", "--eval_frequency: must be at least 1")]
    [InlineData("--workers", "-2", "--workers: must be 0 (all cores) or more")]
    [InlineData("--smoothing", "1", "--smoothing: must be in [0, 1)")]
    [InlineData("--optimizer", "rmsprop", "--optimizer: must be sgd or adam, not 'rmsprop'")]
    [InlineData("--lr_schedule", "cosine", "--lr_schedule: must be step or constant, not 'cosine'")]
    [InlineData("--kd_alpha", "1.5", "--kd_alpha: must be in [0, 1]")]
    [InlineData("--teacher", "/nonexistent/t.safetensors", "--teacher: file not found: /nonexistent/t.safetensors")]
    [InlineData("--val_split", "0.3", "--val_split: and --eval_dir are alternatives: the held-out part is the validation set (run `smile test` on the test set afterwards)")]
    [InlineData("--val_split", "1", "--val_split: must be in [0, 1) (0: off)")]
    [InlineData("--select_by", "loss", "--select_by: must be acc or nll, not 'loss'")]
    [InlineData("--early_stop", "0", "--early_stop: must be at least 1")]
    [InlineData("--ils_temperature", "0", "--ils_temperature: must be a positive number")]
    [InlineData("--ils_teacher", "/nonexistent/t.safetensors", "--ils_teacher: file not found: /nonexistent/t.safetensors")]
    [InlineData("--device", "tpu", "--device tpu: expected cpu, cuda, cuda:N or auto")]
    [InlineData("--device", "cuda", "--device cuda: CUDA is not available to this build (LibTorch CPU, or no NVIDIA driver); see `smile info`")]
    [InlineData("--gpu", "0", "--device cuda:0: CUDA is not available to this build (LibTorch CPU, or no NVIDIA driver); see `smile info`")]
    public void EveryBadFlagIsOneLineNamingItAndExitCode2(string flag, string value, string message)
    {
        var args = Finetune(Path.Combine(data.Root, "bad"), "smile", 2).ToList();
        int at = args.IndexOf(flag);
        if (at >= 0) args[at + 1] = value;
        else args.AddRange(new[] { flag, value });
        var r = SmileProcess.Run(args.ToArray());
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: " + message, r.Stderr.Trim());
        Assert.False(Directory.Exists(Path.Combine(data.Root, "bad")), "nothing may be written before the flags are checked");
    }

    [Fact]
    public void SmileWithoutPretrainedWeightsIsAClearError()
    {
        var args = Finetune(Path.Combine(data.Root, "nopre"), "smile", 2).ToList();
        int at = args.IndexOf("--pretrained");
        args.RemoveRange(at, 2);
        var r = SmileProcess.Run(args.ToArray());
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: --pretrained: --regularizer smile distils from the pre-trained model: give its weights", r.Stderr.Trim());
    }

    [Fact]
    public void PretrainedWeightsOfAnotherArchitectureAreRejectedBeforeTraining()
    {
        var args = Finetune(Path.Combine(data.Root, "wrongarch"), "l2", 2).ToList();
        args[args.IndexOf("--model_arch") + 1] = "resnet34";
        var r = SmileProcess.Run(args.ToArray());
        Assert.Equal(2, r.ExitCode);
        var line = Assert.Single(r.Stderr.Trim().Split((char)10), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains(data.Source, line);
        Assert.Contains("missing", line);
    }

    [Fact]
    public void ADivergingLossStopsWithAClearMessageAndLeavesTheBestCheckpointAsItWas()
    {
        var save = Path.Combine(data.Root, "diverge");
        var first = SmileProcess.Run(Finetune(save, "l2", 4));
        Assert.True(first.ExitCode == 0, first.Stdout + first.Stderr);
        var best = Path.Combine(save, "tiny_l2_Best.safetensors");
        var before = File.ReadAllBytes(best);

        var r = SmileProcess.Run(With(Finetune(save, "l2", 50), ("--lr", "1e30"), ("--eval_frequency", "1000")));
        Assert.Equal(3, r.ExitCode);
        Assert.Matches(@"error: the loss became (NaN|∞|-∞|Infinity|-Infinity) at iteration \d+", r.Stderr);
        Assert.Equal(before, File.ReadAllBytes(best));
    }

    [Fact]
    public async Task CtrlCWritesTheLastCheckpointAndExitsCleanly()
    {
        var save = Path.Combine(data.Root, "interrupt");
        var args = With(Finetune(save, "smile", 100000), ("--eval_frequency", "100000"));
        using var process = System.Diagnostics.Process.Start(SmileProcess.InterruptibleStart(args, out var report))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var log = new System.Text.StringBuilder();
        string? line;
        while ((line = process.StandardError.ReadLine()) is not null)
        {
            log.AppendLine(line);
            if (line.Contains("Step[0003/", StringComparison.Ordinal)) break;
        }
        Assert.NotNull(line);
        using (var kill = System.Diagnostics.Process.Start("kill", new[] { "-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) }))
            kill.WaitForExit();
        var rest = process.StandardError.ReadToEndAsync(); // read while waiting: a smile that does not stop must not block the test
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true); // not left training for 100,000 iterations beside the other tests
            Assert.Fail("smile did not stop after SIGINT");
        }
        log.Append(await rest);
        Assert.Equal(130, process.ExitCode);
        SmileProcess.CheckFinalizerReport(report, args);
        Assert.Contains("Stopped after", log.ToString());
        var last = Path.Combine(save, "tiny_smile_Last.safetensors");
        Assert.True(Checkpoint.ReadInfo(last).Iteration >= 3);
        Assert.Empty(Directory.GetFiles(save, "*.tmp*"));
    }

    [Fact]
    public void TestAndPredictFlagErrorsAreOneLineEach()
    {
        var save = Path.Combine(data.Root, "flags");
        var run = SmileProcess.Run(Finetune(save, "l2", 2));
        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        var best = Path.Combine(save, "tiny_l2_Best.safetensors");
        var cases = new (string[] Args, string Message)[]
        {
            (new[] { "test", "--ckpts", best }, "--test_dir: is required (or --test_list)"),
            (new[] { "test", "--test_dir", "/nonexistent", "--ckpts", best }, "--test_dir: folder not found: /nonexistent"),
            (new[] { "test", "--test_dir", data.Test, "--ckpts", "/nonexistent.safetensors" }, "--ckpts: file not found: /nonexistent.safetensors"),
            (new[] { "test", "--test_dir", data.Test, "--ckpts", best, "--batch_size", "0" }, "--batch_size: must be at least 1"),
            (new[] { "test", "--test_dir", data.Test, "--ckpts", best, "--model_arch", "resnet50" }, $"{best}: --model_arch resnet50 does not match the checkpoint's resnet18"),
            (new[] { "test", "--test_dir", data.Test, "--ckpts", data.Source }, $"{data.Source}: not a Smile checkpoint (no smile_format metadata); plain weights are read with --pretrained"),
            (new[] { "predict", "--ckpts", best }, "--input: is required"),
            (new[] { "predict", "--ckpts", best, "--input", "/nonexistent.jpg" }, "--input: no such file or folder: /nonexistent.jpg"),
            (new[] { "predict", "--ckpts", best, "--input", data.Test, "--topk", "0" }, "--topk: must be at least 1"),
            (new[] { "predict", "--ckpts", best, "--input", data.Test, "--format", "xml" }, "--format: must be csv or json"),
        };
        foreach (var (args, message) in cases)
        {
            var r = SmileProcess.Run(args);
            Assert.True(r.ExitCode == 2, $"{string.Join(' ', args)}: {r.Describe()} {r.Stderr}");
            Assert.Equal("error: " + message, r.Stderr.Trim());
        }
    }
}

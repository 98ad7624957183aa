using System.Diagnostics;
using System.Globalization;
using Smile.Weights;
using static TorchSharp.torch;

namespace Smile.Tests.Cli;

/// <summary>The tiny transfer task with a validation folder large enough that an evaluation takes a while, so that
/// a signal sent when it starts lands inside it.</summary>
public sealed class SlowEvaluationFixture : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("smile-stop-").FullName;
    public string Train => Path.Combine(Root, "train");
    public string Eval => Path.Combine(Root, "eval");
    public string Source => Path.Combine(Root, "source.safetensors");

    public SlowEvaluationFixture()
    {
        int seed = TinyFolders.Write(Train, ["ant", "bee", "cat"], 6, 0);
        TinyFolders.Write(Eval, ["ant", "bee", "cat"], 150, seed);
        var r = SmileProcess.Run("init", "--model_arch", "resnet18", "--num_classes", "10", "--output", Source, "--seed", "1");
        if (r.ExitCode != 0) throw new InvalidOperationException(r.Stderr);
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>
/// Every stop is safe: SIGTERM and Ctrl-C, during a step or inside an evaluation, leave a _Last from which --resume
/// ends with bit-for-bit the weights of an uninterrupted run; a second process cannot take a run name in use;
/// _Best carries no optimizer state; a resume on other classes is refused.
/// </summary>
public sealed class InterruptionCliTests(SlowEvaluationFixture data) : IClassFixture<SlowEvaluationFixture>
{
    /// <summary>The run's arguments; each (flag, value) pair of <paramref name="changes"/> replaces that flag's value or is added.</summary>
    private string[] Finetune(string save, long maxIters, params string[] changes)
    {
        var args = Base(save, maxIters).ToList();
        for (int i = 0; i < changes.Length; i++)
        {
            bool hasValue = i + 1 < changes.Length && !changes[i + 1].StartsWith("--", StringComparison.Ordinal);
            int at = args.IndexOf(changes[i]);
            if (at >= 0 && hasValue) args[at + 1] = changes[i + 1];
            else if (at < 0) args.AddRange(hasValue ? [changes[i], changes[i + 1]] : [changes[i]]);
            if (hasValue) i++;
        }
        return args.ToArray();
    }

    private string[] Base(string save, long maxIters) =>
    [
        "finetune", "--name", "stop", "--train_dir", data.Train, "--eval_dir", data.Eval, "--model_arch", "resnet18",
        "--pretrained", data.Source, "--image_size", "32", "--batch_size", "6", "--batch_size_eval", "2",
        "--max_iters", maxIters.ToString(CultureInfo.InvariantCulture), "--plain_iters", "2", "--eval_frequency", "3",
        "--print_frequency", "1", "--save", save, "--log_dir", Path.Combine(save, "tb"), "--regularizer", "smile",
        "--seed", "5", "--workers", "2",
    ];

    /// <summary>Starts smile, waits for a stderr line containing <paramref name="marker"/>, sends <paramref name="signal"/>,
    /// and returns the exit code and everything it wrote to stderr.</summary>
    private static (int ExitCode, string Stderr) RunAndSignal(string[] args, string marker, string signal)
    {
        using var process = Process.Start(SmileProcess.InterruptibleStart(args, out var report))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var log = new System.Text.StringBuilder();
        string? line;
        while ((line = process.StandardError.ReadLine()) is not null)
        {
            log.AppendLine(line);
            if (line.Contains(marker, StringComparison.Ordinal)) break;
        }
        Assert.True(line is not null, $"smile ended before printing '{marker}':\n{log}");
        Signal(process.Id, signal);
        var rest = process.StandardError.ReadToEndAsync(); // read while waiting: a smile that does not stop must not block the test
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"smile did not stop after SIG{signal}");
        }
        log.Append(rest.Result);
        SmileProcess.CheckFinalizerReport(report, args);
        return (process.ExitCode, log.ToString());
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, pid.ToString(CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    private string Straight(string name, long maxIters)
    {
        var save = Path.Combine(data.Root, name);
        if (!File.Exists(Path.Combine(save, "stop_smile_Last.safetensors")))
        {
            var r = SmileProcess.Run(Finetune(save, maxIters));
            Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
        }
        return save;
    }

    [Fact]
    public void SigtermDuringTrainingWritesLastAndResumesExactly()
    {
        var straight = Straight("straight7", 7);
        var save = Path.Combine(data.Root, "sigterm");
        var (code, log) = RunAndSignal(Finetune(save, 7), "Step[0001/", "TERM");
        Assert.True(code == 143, $"exit {code}:\n{log}");
        Assert.Contains("Stopped after", log);
        Assert.Empty(Directory.GetFiles(save, "*.tmp-*"));
        var resumed = SmileProcess.Run(Finetune(save, 7, "--resume"));
        Assert.True(resumed.ExitCode == 0, resumed.Describe() + resumed.Stderr);
        CheckpointAssert.SameWeights(Path.Combine(straight, "stop_smile_Last.safetensors"), Path.Combine(save, "stop_smile_Last.safetensors"));
        CheckpointAssert.SameWeights(Path.Combine(straight, "stop_smile_Best.safetensors"), Path.Combine(save, "stop_smile_Best.safetensors"));
    }

    [Fact]
    public void CtrlCInsideAnEvaluationResumesExactlyAndRunsThatEvaluationFirst()
    {
        var straight = Straight("straight7", 7);
        var save = Path.Combine(data.Root, "in-eval");
        // The evaluation after iteration 3 starts as soon as that step's line is printed.
        var (code, log) = RunAndSignal(Finetune(save, 7), "Step[0003/", "INT");
        Assert.True(code == 130, $"exit {code}:\n{log}");
        var last = Checkpoint.ReadInfo(Path.Combine(save, "stop_smile_Last.safetensors"));
        Assert.Equal(3, last.Iteration); // the weights after step 3, saved as such
        Assert.Contains("\"EvaluationPending\":true", last.RunState);
        var resumed = SmileProcess.Run(Finetune(save, 7, "--resume"));
        Assert.True(resumed.ExitCode == 0, resumed.Describe() + resumed.Stderr);
        // The cut evaluation (after iteration 3) comes first, before step 4.
        int resuming = resumed.Stderr.IndexOf("Resuming stop_smile after iteration 3", StringComparison.Ordinal);
        int evaluation = resumed.Stderr.IndexOf("Iter[003/007], Validation", StringComparison.Ordinal);
        int step4 = resumed.Stderr.IndexOf("Step[0004/", StringComparison.Ordinal);
        Assert.True(resuming >= 0 && resuming < evaluation && evaluation < step4, resumed.Stderr);
        CheckpointAssert.SameWeights(Path.Combine(straight, "stop_smile_Last.safetensors"), Path.Combine(save, "stop_smile_Last.safetensors"));
        CheckpointAssert.SameWeights(Path.Combine(straight, "stop_smile_Best.safetensors"), Path.Combine(save, "stop_smile_Best.safetensors"));
    }

    [Fact]
    public void TheBestCheckpointHoldsNoOptimizerStateOrTeacher()
    {
        var straight = Straight("straight7", 7);
        using var scope = NewDisposeScope();
        var best = SafetensorsFile.Read(Path.Combine(straight, "stop_smile_Best.safetensors"));
        var last = SafetensorsFile.Read(Path.Combine(straight, "stop_smile_Last.safetensors"));
        Assert.DoesNotContain(best.Keys, k => k.StartsWith(Checkpoint.OptimizerPrefix, StringComparison.Ordinal) || k.StartsWith(Checkpoint.TeacherPrefix, StringComparison.Ordinal));
        Assert.Contains(last.Keys, k => k.StartsWith(Checkpoint.OptimizerPrefix, StringComparison.Ordinal));
        Assert.Contains(last.Keys, k => k.StartsWith(Checkpoint.TeacherPrefix, StringComparison.Ordinal));
    }

    [Fact]
    public void ASecondProcessCannotTakeARunNameInUse()
    {
        var save = Path.Combine(data.Root, "busy");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "smile.dll"));
        foreach (var a in Finetune(save, 100000, "--eval_frequency", "100000")) start.ArgumentList.Add(a);
        using var first = Process.Start(start)!;
        var stdout = first.StandardOutput.ReadToEndAsync();
        string? line;
        while ((line = first.StandardError.ReadLine()) is not null && !line.Contains("Step[0000/", StringComparison.Ordinal)) { }
        try
        {
            Assert.NotNull(line);
            var second = SmileProcess.Run(Finetune(save, 5));
            Assert.Equal(2, second.ExitCode);
            Assert.Equal($"error: {Path.Combine(save, "stop_smile.lock")}: run 'stop_smile' in {save} is in use by another process (pid {first.Id}); " +
                "wait for it to finish, or give another name", second.Stderr.Trim());
        }
        finally
        {
            Signal(first.Id, "TERM");
            var rest = first.StandardError.ReadToEndAsync();
            Assert.True(first.WaitForExit(TimeSpan.FromMinutes(3)));
        }
        // Once the first has stopped, the name is free again.
        var third = SmileProcess.Run(Finetune(save, 100000, "--eval_frequency", "100000", "--resume", "--stop_after", "2"));
        Assert.True(third.ExitCode == 130, third.Describe() + third.Stderr);
    }

    [Fact]
    public void ResumingOnOtherClassesIsRefused()
    {
        var straight = Straight("straight7", 7);
        var other = Path.Combine(data.Root, "other-classes");
        TinyFolders.Write(other, ["ant", "bee", "dog"], 6, 0);
        var args = Finetune(straight, 9, "--resume", "--train_dir", other, "--eval_dir", other);
        var r = SmileProcess.Run(args);
        Assert.Equal(2, r.ExitCode);
        var error = r.Stderr.Trim().Split('\n').Last();
        Assert.StartsWith($"error: {Path.Combine(straight, "stop_smile_Last.safetensors")}: --resume: the checkpoint's classes (3: ant, bee, cat...) are not the training folder's (3: ant, bee, dog...)", error);
    }

    [Fact]
    public void ASaveFolderThatCannotBeWrittenIsFoundBeforeAnyWork()
    {
        var file = Path.Combine(data.Root, "save-is-a-file");
        File.WriteAllText(file, "not a folder");
        var r = SmileProcess.Run(Finetune(file, 3));
        Assert.Equal(2, r.ExitCode);
        var line = Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.StartsWith($"error: --save: cannot write the run's files into {file} (", line);
        Assert.Equal("not a folder", File.ReadAllText(file));
    }
}

namespace Smile.Tests.Cli;

/// <summary>
/// A whole fine-tune through the step-graph runner (Training/StepGraphs.cs) on the CPU: SMILE_STEP_GRAPHS=rerun gives the
/// run the stand-in graph that runs the recorded step again at each replay, so the run engine, checkpoints and resume
/// go through the same runner as on CUDA. The checkpoints must equal an eager run's bit for bit, straight and resumed.
/// </summary>
public sealed class StepGraphsCliTests(TinyTransferFixture data) : IClassFixture<TinyTransferFixture>
{
    private static readonly Dictionary<string, string?> Rerun = new() { ["SMILE_STEP_GRAPHS"] = "rerun" };

    private string[] Finetune(string save, params string[] extra) =>
    [
        "finetune", "--name", "g", "--train_dir", data.Train, "--eval_dir", data.Test, "--model_arch", "resnet18",
        "--pretrained", data.Source, "--image_size", "32", "--batch_size", "6", "--batch_size_eval", "4", "--max_iters", "12",
        "--plain_iters", "2", "--eval_frequency", "4", "--print_frequency", "1", "--save", save, "--log_dir", Path.Combine(save, "tb"),
        "--seed", "5", "--workers", "2", "--regularizer", "smile", .. extra,
    ];

    [Fact]
    public void AReplayedFinetuneAndItsResumeWriteTheEagerRunsCheckpoints()
    {
        var eagerDir = Path.Combine(data.Root, "graphs-eager");
        var eager = SmileProcess.Run(Finetune(eagerDir));
        Assert.True(eager.ExitCode == 0, eager.Describe() + eager.Stderr);
        Assert.DoesNotContain("captured", eager.Stderr);

        var replayedDir = Path.Combine(data.Root, "graphs-replayed");
        var replayed = SmileProcess.RunWith(Rerun, Finetune(replayedDir));
        Assert.True(replayed.ExitCode == 0, replayed.Describe() + replayed.Stderr);
        Assert.Contains("steps replayed by the CPU stand-in for graphs", replayed.Stderr);
        Assert.Contains("CUDA graphs: the smile step is captured at iteration 3", replayed.Stderr);
        CheckpointAssert.SameWeights(Path.Combine(eagerDir, "g_smile_Last.safetensors"), Path.Combine(replayedDir, "g_smile_Last.safetensors"));
        // The evaluations (batches of 4, 4 and 1: the second replayed) report the eager figures.
        Assert.Equal(Evaluations(eager.Stderr), Evaluations(replayed.Stderr));
        Assert.Equal(3, Evaluations(eager.Stderr).Length);
        CheckpointAssert.SameWeights(Path.Combine(eagerDir, "g_smile_Best.safetensors"), Path.Combine(replayedDir, "g_smile_Best.safetensors"));

        // Stopped after 5 steps and resumed with graphs on: warm-up again from the resumed step (5, 6, 7), capture at 8.
        var splitDir = Path.Combine(data.Root, "graphs-split");
        var first = SmileProcess.RunWith(Rerun, Finetune(splitDir, "--stop_after", "5"));
        Assert.True(first.ExitCode == 130, first.Describe() + first.Stderr);
        var second = SmileProcess.RunWith(Rerun, Finetune(splitDir, "--resume"));
        Assert.True(second.ExitCode == 0, second.Describe() + second.Stderr);
        Assert.Contains("CUDA graphs: the smile step is captured at iteration 8", second.Stderr);
        CheckpointAssert.SameWeights(Path.Combine(eagerDir, "g_smile_Last.safetensors"), Path.Combine(splitDir, "g_smile_Last.safetensors"));
    }

    [Fact]
    public void AReplayedDistillationWritesTheEagerRunsCheckpoint()
    {
        // kd's step (a frozen teacher network, soft targets) is captured too: distill's run through the stand-in
        // must end where the eager one does.
        var teacherDir = Path.Combine(data.Root, "graphs-teacher");
        var teacher = SmileProcess.Run(With(With(Finetune(teacherDir), "--regularizer", "l2"), "--max_iters", "2"));
        Assert.True(teacher.ExitCode == 0, teacher.Describe() + teacher.Stderr);
        string[] Distill(string save) =>
        [
            "distill", "--name", "gd", "--train_dir", data.Train, "--eval_dir", data.Test, "--teacher", Path.Combine(teacherDir, "g_l2_Best.safetensors"),
            "--image_size", "32", "--batch_size", "6", "--batch_size_eval", "4", "--max_iters", "8", "--eval_frequency", "4",
            "--print_frequency", "1", "--save", save, "--log_dir", Path.Combine(save, "tb"), "--seed", "5", "--workers", "2",
        ];
        var eagerDir = Path.Combine(data.Root, "graphs-distill-eager");
        var eager = SmileProcess.Run(Distill(eagerDir));
        Assert.True(eager.ExitCode == 0, eager.Describe() + eager.Stderr);
        var replayedDir = Path.Combine(data.Root, "graphs-distill-replayed");
        var replayed = SmileProcess.RunWith(Rerun, Distill(replayedDir));
        Assert.True(replayed.ExitCode == 0, replayed.Describe() + replayed.Stderr);
        Assert.Contains("CUDA graphs: the kd step is captured at iteration 3", replayed.Stderr);
        CheckpointAssert.SameWeights(Path.Combine(eagerDir, "gd_kd_Last.safetensors"), Path.Combine(replayedDir, "gd_kd_Last.safetensors"));
    }

    [Fact]
    public void NoCudaGraphsKeepsEveryStepEager()
    {
        var save = Path.Combine(data.Root, "graphs-off");
        var r = SmileProcess.RunWith(Rerun, Finetune(save, "--no_cuda_graphs", "--max_iters", "5"));
        Assert.Equal(2, r.ExitCode); // --max_iters given twice: a usage error, nothing run
        var off = SmileProcess.RunWith(Rerun, With(Finetune(save, "--no_cuda_graphs"), "--max_iters", "5"));
        Assert.True(off.ExitCode == 0, off.Describe() + off.Stderr);
        Assert.DoesNotContain("captured", off.Stderr);
        Assert.DoesNotContain("stand-in", off.Stderr);
    }

    private static string[] Evaluations(string log) =>
        System.Text.RegularExpressions.Regex.Matches(log, @"Validation Loss: [\d.]+, Validation Acc@1: [\d.]+, Acc@5: [\d.]+, ECE: [\d.]+").Select(m => m.Value).ToArray();

    private static string[] With(string[] args, string flag, string value)
    {
        var copy = args.ToArray();
        copy[Array.IndexOf(copy, flag) + 1] = value;
        return copy;
    }
}

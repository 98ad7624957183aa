using System.Text;
using Smile.Sweeps;

namespace Smile.Cli.Commands.Sweep;

/// <summary>Slurm resources of a sweep's job array: the grid's "slurm" object, overridden by the command line.</summary>
internal sealed record SlurmResources(string? Partition, string? Time, int? CpusPerTask, string? Gres, string? Memory, int? MaxParallel, string? Account);

/// <summary>
/// `smile sweep run --backend slurm`: one sbatch script, one array task per run (the task id is the run's index in the
/// grid). A task skips a finished run, runs `smile finetune --config` with --resume when a _Last exists, and is asked
/// by `--signal=B:TERM@120` to stop 120 s before its time limit: the script passes SIGTERM to smile, which writes _Last
/// and exits 143, and the script then requeues its own array task with `scontrol requeue` (Slurm's --requeue alone
/// requeues only after a node failure or preemption, not at a time limit) if Slurm still reports it RUNNING: `scancel`
/// sends SIGTERM too, and a cancelled task is not requeued. The requeued task resumes from _Last.
/// </summary>
internal static class SlurmScript
{
    public const string FileName = "sweep.sbatch";

    public static string Write(SweepGrid grid, SlurmResources resources, IReadOnlyList<string> smile)
    {
        var s = new StringBuilder();
        void Line(string text) => s.Append(text).Append('\n');
        Line("#!/bin/bash");
        Line($"#SBATCH --job-name={JobName(grid)}");
        Line($"#SBATCH --array=0-{grid.Runs.Count - 1}{(resources.MaxParallel is { } m ? $"%{m}" : "")}");
        Line($"#SBATCH --output={Path.Combine(grid.Output, "slurm", "%A_%a.out")}");
        Line("#SBATCH --open-mode=append");
        Line("#SBATCH --signal=B:TERM@120");
        Line("#SBATCH --requeue");
        if (resources.Partition is { } p) Line($"#SBATCH --partition={p}");
        if (resources.Account is { } a) Line($"#SBATCH --account={a}");
        if (resources.Time is { } t) Line($"#SBATCH --time={t}");
        if (resources.CpusPerTask is { } c) Line($"#SBATCH --cpus-per-task={c}");
        if (resources.Gres is { } g) Line($"#SBATCH --gres={g}");
        if (resources.Memory is { } mem) Line($"#SBATCH --mem={mem}");
        Line("# Written by `smile sweep run --backend slurm`: one array task per run of");
        Line($"# {grid.File}");
        Line("set -u");
        Line("runs=(");
        foreach (var run in grid.Runs) Line($"  {Quote(run.Name)}");
        Line(")");
        Line("run=\"${runs[$SLURM_ARRAY_TASK_ID]}\"");
        Line($"dir={Quote(grid.Output)}/\"$run\"");
        Line($"cd {Quote(Path.GetDirectoryName(grid.File)!)} || exit 1");
        Line("# A finished run (its summary not interrupted) is done: nothing to do.");
        Line("if grep -qs '\"Interrupted\": false' \"$dir\"/*_summary.json; then echo \"$run: done\"; exit 0; fi");
        Line("resume=()");
        Line("if compgen -G \"$dir/*_Last.safetensors\" > /dev/null; then resume=(--resume); fi");
        Line($"{string.Join(' ', smile.Select(Quote))} finetune --config \"$dir/{SweepRunState.ConfigFile}\" \"${{resume[@]}}\" >> \"$dir/{SweepRunState.OutputFile}\" 2>&1 &");
        Line("child=$!");
        Line("# --signal=B:TERM reaches this shell only: pass it on, smile writes _Last and exits 143.");
        Line("trap 'kill -TERM \"$child\" 2>/dev/null' TERM");
        Line("wait \"$child\"; code=$?");
        Line("# A trapped signal ends a wait early: wait again while smile is still there (it writes _Last first).");
        Line("while kill -0 \"$child\" 2>/dev/null; do wait \"$child\"; code=$?; done");
        Line($"echo \"$code\" > \"$dir/{SweepRunState.ExitFile}\"");
        Line("# Requeue only a task Slurm still counts as running (stopped by --signal before its time limit): scancel also");
        Line("# sends SIGTERM, and a cancelled task must stay cancelled.");
        Line("task=\"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"");
        Line("if [ \"$code\" -eq 143 ] && [ \"$(squeue -h -j \"$task\" -o %T 2>/dev/null)\" = RUNNING ]; then");
        Line("  echo \"$run: stopped before the time limit, requeued to resume\"");
        Line("  scontrol requeue \"$task\"");
        Line("fi");
        Line("exit \"$code\"");
        return s.ToString();
    }

    private static string JobName(SweepGrid grid) => "smile-" + new string(Path.GetFileNameWithoutExtension(grid.File).Select(ch => char.IsLetterOrDigit(ch) || ch is '-' or '_' or '.' ? ch : '-').ToArray());

    /// <summary>A word for bash: single-quoted, a single quote inside written '\''.</summary>
    public static string Quote(string word) => "'" + word.Replace("'", "'\\''") + "'";
}

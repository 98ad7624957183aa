namespace Smile.Training;

/// <summary>A strategy's evaluation: the selection score (higher is better) and the headline metric the best
/// checkpoint reports (top-1, F1).</summary>
public sealed record Evaluated(double Score, double Metric);

/// <summary>
/// What a kind of training run supplies to <see cref="RunEngine"/>: its steps and its evaluation, and how its
/// checkpoints are written and read. The engine owns everything else: the loop, progress and rate, divergence,
/// selection and early stopping, interruption to _Last, resume, the summary's timing
/// (docs/DESIGN.md, "The run engine"). Steps are numbered 0..<see cref="TotalSteps"/>-1 across the whole run.
/// </summary>
public interface ITrainingStrategy
{
    long TotalSteps { get; }

    /// <summary>Reads _Last and puts the models and optimizers back; the progress to continue from.</summary>
    RunProgress Restore();

    /// <summary>Called once before the first step of this process (after <see cref="Restore"/> when resuming).</summary>
    void Begin(RunProgress progress);

    /// <summary>One training step: its batch, its learning rate, the update. Returns what it measured and how many
    /// images it consumed. A non-finite loss is returned, not thrown: the engine stops the run.</summary>
    (StepResult Result, int Images) Step(long step, CancellationToken cancel);

    /// <summary>Reports a finished step (scalars, log line); <paramref name="imagesPerSecond"/> and <paramref name="remaining"/> are the engine's.</summary>
    void Report(long step, StepResult result, double imagesPerSecond, TimeSpan remaining);

    /// <summary>Whether the print-frequency window restarts after <paramref name="step"/> (the engine's rate is over that window).</summary>
    bool LogsAfter(long step);

    /// <summary>Whether an evaluation (and a _Last write) follows <paramref name="step"/>.</summary>
    bool EvaluatesAfter(long step);

    /// <summary>Evaluates the model after <paramref name="step"/>, logs it; null when the run has no validation set.</summary>
    Evaluated? Evaluate(long step, CancellationToken cancel);

    /// <summary>Called after an evaluation and the checkpoints it led to (the CLI's progress display hears of it here).</summary>
    void Evaluation(long step, bool isBest, string? savedBest) { }

    /// <summary>Writes the _Best file: what evaluation and deployment need, never optimizer state.</summary>
    string SaveBest(RunProgress progress);

    /// <summary>Writes the _Last file: everything <see cref="Restore"/> needs to continue exactly.</summary>
    string SaveLast(RunProgress progress);

    /// <summary>The message of a diverged run (a non-finite loss at <paramref name="step"/>).</summary>
    string Diverged(long step, StepResult result, RunProgress progress);
}

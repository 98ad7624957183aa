using System.Diagnostics;
using Serilog;

namespace Smile.Training;

/// <summary>How the engine runs a strategy: resume or start afresh, early stopping, and a planned stop.</summary>
/// <param name="EarlyStop">Stop after this many evaluations without a better score; null: never.</param>
/// <param name="StopAfter">Stop (writing _Last) once this many steps are done, to split a run into sessions.</param>
public sealed record EngineOptions(bool Resume = false, int? EarlyStop = null, long? StopAfter = null);

/// <summary>How a run ended, as the engine saw it.</summary>
public sealed record EngineOutcome(RunProgress Progress, long StartStep, bool Interrupted, bool EarlyStopped, double Seconds, long Images)
{
    public double ImagesPerSecond => Images / Math.Max(Seconds, 1e-9);
}

/// <summary>
/// The one training loop (docs/DESIGN.md, "The run engine"). For every step of the strategy: the step, the
/// native garbage drained, divergence stops the run (the best checkpoint stays), the rate and time left, and at
/// the strategy's evaluation points the evaluation, model selection (_Best), the rolling _Last and early
/// stopping. Cancellation (Ctrl-C, SIGTERM) at any moment, in a step or in an evaluation, writes _Last with the
/// steps actually done, so that --resume continues exactly; an evaluation it cut short is run first on resume.
/// </summary>
public sealed class RunEngine(ITrainingStrategy strategy, EngineOptions options, ILogger log)
{
    public EngineOutcome Run(CancellationToken cancel = default)
    {
        var progress = options.Resume ? strategy.Restore() : RunProgress.Fresh;
        long start = progress.StepsDone;
        strategy.Begin(progress);

        var clock = Stopwatch.StartNew();
        var window = Stopwatch.StartNew();
        long images = 0, windowImages = 0;
        bool interrupted = false, earlyStopped = false;
        try
        {
            if (progress.EvaluationPending && progress.StepsDone > 0)
                (progress, earlyStopped) = EvaluateAndSave(progress.StepsDone - 1, progress with { EvaluationPending = false }, cancel);
            for (long step = progress.StepsDone; step < strategy.TotalSteps && !earlyStopped; step++)
            {
                if (cancel.IsCancellationRequested) { interrupted = true; break; }
                var (result, count) = strategy.Step(step, cancel);
                Native.NativeGarbage.Release();
                if (!result.Finite) throw new DivergedException(strategy.Diverged(step, result, progress));
                // From here the weights are those after this step: any stop must save them as such.
                progress = progress with { StepsDone = step + 1, EvaluationPending = strategy.EvaluatesAfter(step) };
                images += count;
                windowImages += count;
                double rate = windowImages / Math.Max(window.Elapsed.TotalSeconds, 1e-9);
                var remaining = TimeSpan.FromSeconds((strategy.TotalSteps - step - 1) * (double)count / Math.Max(rate, 1e-9));
                strategy.Report(step, result, rate, remaining);
                if (strategy.LogsAfter(step))
                {
                    window.Restart();
                    windowImages = 0;
                }
                if (progress.EvaluationPending)
                    (progress, earlyStopped) = EvaluateAndSave(step, progress with { EvaluationPending = false }, cancel);
                if (options.StopAfter is long stopAfter && progress.StepsDone >= stopAfter && progress.StepsDone < strategy.TotalSteps && !earlyStopped)
                {
                    interrupted = true;
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            interrupted = true;
        }
        if (interrupted && progress.StepsDone > start)
        {
            strategy.SaveLast(progress);
            log.Warning("Stopped after {Done} of {Max} iterations: the last checkpoint is written; resuming the run continues from it", progress.StepsDone, strategy.TotalSteps);
        }
        return new EngineOutcome(progress, start, interrupted, earlyStopped, clock.Elapsed.TotalSeconds, images);
    }

    /// <summary>The evaluation after <paramref name="step"/>, the selection, _Best when it improved, _Last always;
    /// whether early stopping ends the run here.</summary>
    private (RunProgress, bool EarlyStop) EvaluateAndSave(long step, RunProgress progress, CancellationToken cancel)
    {
        var evaluated = strategy.Evaluate(step, cancel);
        bool isBest = false;
        string? saved = null;
        if (evaluated is { } e)
        {
            if (e.Score > progress.BestScore || !progress.HasBest)
            {
                isBest = true;
                progress = progress with { BestScore = e.Score, BestStep = step, EvalsSinceBest = 0, BestMetric = e.Metric };
                saved = strategy.SaveBest(progress);
            }
            else progress = progress with { EvalsSinceBest = progress.EvalsSinceBest + 1 };
        }
        strategy.SaveLast(progress);
        strategy.Evaluation(step, isBest, saved);
        bool last = step + 1 >= strategy.TotalSteps;
        bool stop = options.EarlyStop is int patience && progress.EvalsSinceBest >= patience && !last;
        if (stop)
            log.Information("Early stop after iteration {Step}: {N} evaluations without a better validation score (best at iteration {Best})", step, progress.EvalsSinceBest, progress.BestStep);
        return (progress, stop);
    }
}

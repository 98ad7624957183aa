using Smile.Evaluation;

namespace Smile.Training;

/// <summary>One training iteration as a monitor sees it (weighted loss terms, throughput, time left).</summary>
public sealed record StepReport(long Iteration, long MaxIters, string Regularizer, double Loss,
    IReadOnlyDictionary<string, double> Terms, double TrainAccuracy, double LearningRate, double ImagesPerSecond, TimeSpan Remaining);

public sealed record EvalReport(long Iteration, EvalResult Result, bool IsBest, string? SavedPath);

/// <summary>The end of a run: what the JSON summary holds.</summary>
public sealed record TrainingSummary(string Name, string Regularizer, string Architecture, long Iterations, long StartIteration,
    double BestAccuracy, long BestIteration, EvalResult? LastEval, double Seconds, double ImagesPerSecond, int BadImages,
    string? BestCheckpoint, string LastCheckpoint, bool Interrupted, bool EarlyStopped = false);

/// <summary>How a caller (the CLI's progress display, a notebook) follows a run; every member is optional.</summary>
public interface ITrainingMonitor
{
    void OnStep(StepReport step) { }
    void OnEval(EvalReport eval) { }
    void OnEvalProgress(int images, int total) { }
}

/// <summary>A loss that is NaN or infinite: the run stops, the best checkpoint stays as it was.</summary>
public sealed class DivergedException(string message) : Exception(message);

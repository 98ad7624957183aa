using Smile.Training;

namespace Smile.Tests.Training;

/// <summary>The one loop's bookkeeping, on a strategy whose "weights" are a counter: what each stop saves and
/// what a resume continues from.</summary>
public sealed class RunEngineTests
{
    /// <summary>Steps add 1 to a counter; evaluation after every 3rd step scores the scripted values in turn.</summary>
    private sealed class CountingStrategy(long total, double[] scores) : ITrainingStrategy
    {
        public long Weights;
        public RunProgress? SavedLast, SavedBest;
        public long SavedWeights = -1;
        public List<long> Evaluations = [];
        public Action<long>? DuringEvaluation;
        public double LossAt(long step) => step == DivergeAt ? double.NaN : 1.0;
        public long DivergeAt = -1;

        public long TotalSteps => total;
        public RunProgress Restore() { Weights = SavedWeights; return SavedLast!; }
        public void Begin(RunProgress progress) { }
        public (StepResult Result, int Images) Step(long step, CancellationToken cancel)
        {
            if (step != DivergeAt) Weights++;
            return (new StepResult(LossAt(step), new Dictionary<string, double>(), 0.5), 4);
        }
        public void Report(long step, StepResult result, double imagesPerSecond, TimeSpan remaining) { }
        public bool LogsAfter(long step) => true;
        public bool EvaluatesAfter(long step) => step % 3 == 2 || step + 1 == total;
        public Evaluated? Evaluate(long step, CancellationToken cancel)
        {
            DuringEvaluation?.Invoke(step);
            cancel.ThrowIfCancellationRequested();
            Evaluations.Add(step);
            var score = scores[Evaluations.Count - 1];
            return new Evaluated(score, score);
        }
        public string SaveBest(RunProgress progress) { SavedBest = progress; return "best"; }
        public string SaveLast(RunProgress progress)
        {
            Assert.Equal(progress.StepsDone, Weights); // _Last always holds the weights after exactly StepsDone steps
            SavedLast = progress;
            SavedWeights = Weights;
            return "last";
        }
        public string Diverged(long step, StepResult result, RunProgress progress) => $"diverged at {step}";
    }

    [Fact]
    public void AStopDuringAnEvaluationSavesTheStepJustDoneAndResumingRunsThatEvaluationFirst()
    {
        var straight = new CountingStrategy(9, [0.1, 0.3, 0.2]);
        var whole = new RunEngine(straight, new EngineOptions(), Serilog.Core.Logger.None).Run();
        Assert.Equal([2L, 5, 8], straight.Evaluations);

        using var stop = new CancellationTokenSource();
        var first = new CountingStrategy(9, [0.1, 0.3, 0.2]) { DuringEvaluation = s => { if (s == 5) stop.Cancel(); } };
        var cut = new RunEngine(first, new EngineOptions(), Serilog.Core.Logger.None).Run(stop.Token);
        Assert.True(cut.Interrupted);
        Assert.Equal(6, first.SavedLast!.StepsDone);
        Assert.True(first.SavedLast.EvaluationPending);
        Assert.Equal(6, first.SavedWeights);

        var second = new CountingStrategy(9, [0.3, 0.2]) { SavedLast = first.SavedLast, SavedWeights = first.SavedWeights };
        var resumed = new RunEngine(second, new EngineOptions(Resume: true), Serilog.Core.Logger.None).Run();
        Assert.Equal([5L, 8], second.Evaluations); // the cut evaluation first, then the rest
        Assert.Equal(9, second.Weights);
        Assert.Equal(whole.Progress, resumed.Progress);
        Assert.Equal(5, resumed.Progress.BestStep);
    }

    [Fact]
    public void EarlyStoppingCountsEvaluationsWithoutImprovement()
    {
        var strategy = new CountingStrategy(30, [0.5, 0.4, 0.4, 0.9]);
        var outcome = new RunEngine(strategy, new EngineOptions(EarlyStop: 2), Serilog.Core.Logger.None).Run();
        Assert.True(outcome.EarlyStopped);
        Assert.Equal(9, outcome.Progress.StepsDone);
        Assert.Equal(2, outcome.Progress.BestStep);
        Assert.Equal(2, outcome.Progress.EvalsSinceBest);
    }

    [Fact]
    public void ADivergedStepStopsTheRunAndLeavesTheSavedFilesAsTheyWere()
    {
        var strategy = new CountingStrategy(9, [0.5, 0.6, 0.7]) { DivergeAt = 4 };
        var e = Assert.Throws<DivergedException>(() => new RunEngine(strategy, new EngineOptions(), Serilog.Core.Logger.None).Run());
        Assert.Equal("diverged at 4", e.Message);
        Assert.Equal(3, strategy.SavedLast!.StepsDone);
    }

    [Fact]
    public void StopAfterEndsWithALastCheckpointThatResumesWhereItStopped()
    {
        var first = new CountingStrategy(9, [0.1, 0.2, 0.3]);
        var cut = new RunEngine(first, new EngineOptions(StopAfter: 4), Serilog.Core.Logger.None).Run();
        Assert.True(cut.Interrupted);
        Assert.Equal(4, first.SavedLast!.StepsDone);
        Assert.False(first.SavedLast.EvaluationPending);
    }

    [Fact]
    public void RunProgressSurvivesItsJsonIncludingNothingSelectedYet()
    {
        var fresh = RunProgress.Fresh with { StepsDone = 12, EvaluationPending = true };
        Assert.Equal(fresh, RunProgress.FromJson(fresh.ToJson()));
        var later = new RunProgress(40, -0.123456789012345, 29, 1, 0.87654321, false);
        Assert.Equal(later, RunProgress.FromJson(later.ToJson()));
        Assert.Null(RunProgress.FromJson(null));
        Assert.Throws<FormatException>(() => RunProgress.FromJson("{\"StepsDone\": -3}"));
    }
}

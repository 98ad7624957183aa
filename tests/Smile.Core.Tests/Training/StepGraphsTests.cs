using Serilog;
using Smile.Methods;
using Smile.Models;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

/// <summary>
/// The CUDA-graph runner (Training/StepGraphs.cs) on the CPU, with the stand-in graph that runs the recorded step again at
/// each replay (<see cref="RerunStepGraph"/>). What it checks is the runner's plumbing, which a GPU would run the same way: that replayed steps read
/// each step's batch and mix from the captured inputs, that the learning-rate drop and SMILE's plain tail are captured
/// anew, that the mean teacher and its refold run between replays, that moved tensors are noticed, that what cannot be
/// captured runs eagerly, and that a failed capture falls back. Each run is compared with the eager steps bit for bit.
/// Whether CUDA's own capture records the same step is for a GPU (scripts/gpu-check.sh).
/// </summary>
public sealed class StepGraphsTests
{
    private const int Batch = 4, Size = 32, Classes = 3, SourceClasses = 10, Steps = 26;
    private const long MaxIters = 1020; // with SMILE's 1000 plain final iterations, the plain step starts at iteration 20

    /// <summary>A backend whose capture fails, as CUDA's does on an operation it cannot record.</summary>
    private sealed class FailingGraph : IStepGraph
    {
        public void Capture(Action b) => throw new InvalidOperationException("operation not permitted when stream is capturing");
        public void Replay() => throw new InvalidOperationException("nothing captured");
        public void Warm(Action step) => step();
        public void Dispose() { }
    }

    private sealed record RunResult(List<double> Losses, Dictionary<string, Tensor> Weights, StepGraphs? Graphs, List<string> Log) : IDisposable
    {
        public void Dispose()
        {
            foreach (var t in Weights.Values) t.Dispose();
            Graphs?.Dispose();
        }
    }

    [Fact]
    public void ReplayedSmileStepsEqualEagerStepsThroughTheEmaTheRateDropAndThePlainTail()
    {
        using var eager = Train(graphs: null);
        using var replayed = Train(graphs: () => new RerunStepGraph());
        AssertSame(eager, replayed);
        // Warm-up 0-2, capture at 3; the rate drops at 12: captured again; the plain step from 20: warm-up 20-22, capture at 23.
        Assert.Equal(3, replayed.Graphs!.Captures);
        Assert.Equal(Steps - 2 * StepGraphs.WarmupSteps, replayed.Graphs.Replays);
        Assert.Contains(replayed.Log, l => l.Contains("the smile step is captured at iteration 3", StringComparison.Ordinal));
        Assert.Contains(replayed.Log, l => l.Contains("the smile step is captured at iteration 12", StringComparison.Ordinal));
        Assert.Contains(replayed.Log, l => l.Contains("the l2 step is captured at iteration 23", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("mixup")]
    [InlineData("l2sp")]
    public void TheOtherCapturableMethodsReplayAsTheyRunEagerly(string methodName)
    {
        using var eager = Train(graphs: null, methodName: methodName, steps: 15);
        using var replayed = Train(graphs: () => new RerunStepGraph(), methodName: methodName, steps: 15);
        AssertSame(eager, replayed);
        Assert.Equal(2, replayed.Graphs!.Captures); // at 3, and at 12 for the lower rate
        Assert.Equal(15 - StepGraphs.WarmupSteps, replayed.Graphs.Replays);
    }

    [Fact]
    public void AReplayThatSkippedLoadingTheBatchWouldDifferFromEager()
    {
        // The comparison can fail: the same run with every replay on the captured step's batch (as a runner that never
        // copied new batches in would be) is not the eager run.
        using var eager = Train(graphs: null, steps: 8);
        using var stale = Train(graphs: () => new RerunStepGraph(), sameBatchFrom: 3, steps: 8);
        Assert.NotEqual(eager.Losses.Skip(4), stale.Losses.Skip(4));
    }

    [Fact]
    public void AFailedCaptureFallsBackToEagerStepsWithOneWarning()
    {
        using var eager = Train(graphs: null, steps: 8);
        using var failing = Train(graphs: () => new FailingGraph(), steps: 8);
        AssertSame(eager, failing);
        Assert.True(failing.Graphs!.Failed);
        Assert.Equal(0, failing.Graphs.Replays);
        Assert.Single(failing.Log, l => l.Contains("capturing the smile step failed (operation not permitted when stream is capturing)", StringComparison.Ordinal));
    }

    [Fact]
    public void ATensorThatMovesAfterTheCaptureIsCapturedAgain()
    {
        // With the teacher unfolded the captured step reads the teacher's own parameters; started at iteration 5 (as a
        // resumed run), the first mean-teacher update, at 10, re-homes them into flat buffers (Tensor.set_): the graph
        // would read the old memory, so the runner must capture again.
        using var eager = Train(graphs: null, fold: false, start: 5, steps: 9);
        using var replayed = Train(graphs: () => new RerunStepGraph(), fold: false, start: 5, steps: 9);
        AssertSame(eager, replayed);
        Assert.Contains(replayed.Log, l => l.Contains("a tensor of the captured step moved after iteration 10", StringComparison.Ordinal));
        Assert.Contains(replayed.Log, l => l.Contains("the smile step is captured at iteration 11", StringComparison.Ordinal));
    }

    [Fact]
    public void WhatCannotBeCapturedRunsEagerlyWithOneLine()
    {
        using var eager = Train(graphs: null, classWeights: true, steps: 6);
        using var weighted = Train(graphs: () => new RerunStepGraph(), classWeights: true, steps: 6);
        AssertSame(eager, weighted);
        Assert.Equal(0, weighted.Graphs!.Captures);
        Assert.Single(weighted.Log, l => l.Contains("the smile step runs eagerly (class weights", StringComparison.Ordinal));

        using var ls = Regularizers.Create("ls");
        Assert.False(ls.Capturable);
        using var ctx = new TrainingContext(ModelFactory.Create("resnet18", Classes), null, new LossOptions(0, 0));
        using var sgd = Optimizers.Create("sgd", ctx.Student.named_parameters().Select(p => (p.name, p.parameter, true)), 0.01, 0);
        using var graphs = new StepGraphs(ctx, sgd, () => new RerunStepGraph(), Serilog.Core.Logger.None);
        using var batch = zeros(Batch, 3, Size, Size);
        Assert.Contains("not written to be captured", graphs.WhyEager(ls, new StepBatch(batch, batch)), StringComparison.Ordinal);
    }

    /// <summary><paramref name="steps"/> SMILE steps from iteration <paramref name="start"/> on a ResNet-18 (random weights,
    /// seeded), rate 0.01 then 0.001 from iteration 12, eager (<paramref name="graphs"/> null) or through the runner.</summary>
    private static RunResult Train(Func<IStepGraph>? graphs, bool fold = true, int start = 0, bool classWeights = false, int? sameBatchFrom = null, string methodName = "smile",
        int steps = Steps)
    {
        var log = new List<string>();
        var logger = new LoggerConfiguration().WriteTo.Sink(new DeltaAttentionCacheTests.ListSink(out log)).CreateLogger();
        using var teacher = ModelFactory.Create("resnet18", SourceClasses);
        teacher.eval();
        using var student = ModelFactory.Create("resnet18", Classes, SourceClasses);
        student.train();
        // The same starting weights in every run, whatever other tests do to LibTorch's global generator meanwhile.
        Load(teacher, Initial.Value.Teacher);
        Load(student, Initial.Value.Student);
        using var method = Regularizers.Create(methodName);
        var options = new LossOptions(1e-4, method.DefaultL2spLambda) { ClassWeights = classWeights ? [1.0, 2.0, 0.5] : null };
        using var ctx = new TrainingContext(student, method.NeedsTeacher ? teacher : null, options) { FoldTeacherBatchNorm = fold };
        using var optimizer = Optimizers.Create("sgd", student.named_parameters().Select(p => (p.name, p.parameter, method.WeightDecayApplies(p.name))), 0.01, 1e-4);
        var runner = graphs is null ? null : new StepGraphs(ctx, optimizer, graphs, logger);
        var losses = new List<double>();
        for (long i = start; i < start + steps; i++)
        {
            using var scope = NewDisposeScope();
            var step = method.ForIteration(i, MaxIters);
            optimizer.LearningRate = i < 12 ? 0.01 : 0.001;
            long b = sameBatchFrom is int from && i > from ? from : i;
            var generator = new Generator(100 + (ulong)b);
            var batch = new StepBatch(randn([Batch, 3, Size, Size], generator: generator), randint(0, Classes, [Batch], generator: generator));
            var mix = step.UsesMixup ? step.DrawMix(new Random((int)b), Batch) : null;
            var result = runner is null ? TrainingStep.Run(ctx, step, optimizer, batch, mix, i) : runner.Run(step, batch, mix, i);
            Assert.True(result.Finite, $"iteration {i}: loss {result.Loss}");
            losses.Add(result.Loss);
        }
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, p) in student.named_parameters()) weights["student." + name] = p.detach().clone().DetachFromDisposeScope();
        foreach (var (name, t) in student.named_buffers()) weights["student." + name] = t.clone().DetachFromDisposeScope();
        foreach (var (name, p) in teacher.named_parameters()) weights["teacher." + name] = p.detach().clone().DetachFromDisposeScope();
        foreach (var (name, t) in optimizer.State) weights["optimizer." + name] = t.clone().DetachFromDisposeScope();
        return new RunResult(losses, weights, runner, log);
    }

    private static readonly Lazy<(Dictionary<string, Tensor> Teacher, Dictionary<string, Tensor> Student)> Initial = new(() =>
    {
        using var teacher = ModelFactory.Create("resnet18", SourceClasses);
        using var student = ModelFactory.Create("resnet18", Classes, SourceClasses);
        return (Snapshot(teacher), Snapshot(student));
    });

    private static Dictionary<string, Tensor> Snapshot(nn.Module model)
    {
        using var noGrad = no_grad();
        return model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Concat(model.named_buffers())
            .ToDictionary(p => p.Item1, p => p.Item2.clone().DetachFromDisposeScope(), StringComparer.Ordinal);
    }

    private static void Load(nn.Module model, Dictionary<string, Tensor> values)
    {
        using var noGrad = no_grad();
        foreach (var (name, t) in model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Concat(model.named_buffers()))
            t.copy_(values[name]);
    }

    private static void AssertSame(RunResult expected, RunResult actual)
    {
        Assert.Equal(expected.Losses, actual.Losses);
        Assert.Equal(expected.Weights.Keys.Order(), actual.Weights.Keys.Order());
        foreach (var (name, tensor) in expected.Weights)
            Assert.True(tensor.equal(actual.Weights[name]).all().item<bool>(), $"{name} differs");
    }
}

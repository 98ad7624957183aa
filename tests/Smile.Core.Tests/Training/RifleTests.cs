using Smile.Methods;
using Smile.Models;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

/// <summary>RIFLE's schedule, its re-initialisation of the head (only there, only the head, seeded) and the reset of the
/// head's optimizer state, on a resnet18 (5 classes and a 10-class aux head) trained on random 32 x 32 batches.</summary>
public sealed class RifleTests
{
    private static RifleRegularizer Rifle(MethodValues values, int seed, long iterations)
    {
        var rifle = (RifleRegularizer)Regularizers.Configure("rifle", values);
        rifle.SetRun(seed, iterations);
        return rifle;
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static long[] Boundaries(RifleRegularizer rifle, long iterations) =>
        Enumerable.Range(0, (int)iterations).Where(i => rifle.BoundaryAt(i) != 0).Select(i => (long)i).ToArray();

    [Fact]
    public void BoundariesCutTheRunIntoEqualPeriodsOrFollowThePeriod()
    {
        using (var r = Rifle(new MethodValues(), 0, 8)) Assert.Equal([2, 4, 6], Boundaries(r, 8));
        using (var r = Rifle(new MethodValues(), 0, 10)) Assert.Equal([2, 5, 7], Boundaries(r, 10));
        using (var r = Rifle(new MethodValues().With("rifle_times", 1L), 0, 9)) Assert.Equal([4], Boundaries(r, 9));
        using (var r = Rifle(new MethodValues().With("rifle_period", 3L), 0, 10))
        {
            Assert.Equal([3, 6, 9], Boundaries(r, 10));
            Assert.Equal(2, r.BoundaryAt(6));
        }
        using (var r = Rifle(new MethodValues().With("rifle_times", 2L), 0, 9))
            Assert.Equal([1, 2], new[] { r.BoundaryAt(3), r.BoundaryAt(6) });
        // More re-initialisations than iterations: each iteration after the first at most once.
        using (var r = Rifle(new MethodValues().With("rifle_times", 20L), 0, 4)) Assert.Equal([1, 2, 3], Boundaries(r, 4));
    }

    [Fact]
    public void BadOrClashingSettingsNameTheSetting()
    {
        Assert.Equal("rifle_times", Assert.Throws<MethodSettingException>(() => Regularizers.Configure("rifle", new MethodValues().With("rifle_times", 0L))).Setting);
        Assert.Equal("rifle_period", Assert.Throws<MethodSettingException>(() => Regularizers.Configure("rifle", new MethodValues().With("rifle_period", -1L))).Setting);
        var both = Assert.Throws<MethodSettingException>(() => Regularizers.Configure("rifle", new MethodValues().With("rifle_period", 5L).With("rifle_times", 2L)));
        Assert.Equal("give rifle_period or rifle_times, not both", both.Problem);
        Assert.Equal("bss_k", Assert.Throws<MethodSettingException>(() => Regularizers.Configure("rifle", new MethodValues().With("bss_k", 2L))).Setting);
    }

    private sealed record Run(ImageClassifier Student, TrainingContext Context, NesterovSgd Optimizer, RifleRegularizer Method) : IDisposable
    {
        public static Run Start(int seed, long iterations)
        {
            random.manual_seed(3);
            var student = ModelFactory.Create("resnet18", 5, 10);
            student.train();
            var ctx = new TrainingContext(student, null, new LossOptions());
            var sgd = new NesterovSgd(student.named_parameters().Select(p => (p.name, p.parameter, true)), 0.01, weightDecay: 1e-4);
            return new Run(student, ctx, sgd, Rifle(new MethodValues(), seed, iterations));
        }

        public void Step(long iteration)
        {
            using var scope = NewDisposeScope();
            random.manual_seed(100 + iteration);
            var batch = new StepBatch(randn(4, 3, 32, 32), tensor(new long[] { 0, 1, 2, 3 }));
            var result = TrainingStep.Run(Context, Method, Optimizer, batch, null, iteration);
            Assert.True(result.Finite);
        }

        public Dictionary<string, Tensor> Snapshot() =>
            Student.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

        public void Dispose()
        {
            ((IDisposable)Method).Dispose();
            Optimizer.Dispose();
            Context.Dispose();
            Student.Dispose();
        }
    }

    [Fact]
    public void TheHeadIsDrawnAgainExactlyAtTheBoundariesAndNothingElseIsTouched()
    {
        using var scope = NewDisposeScope();
        using var run = Run.Start(seed: 42, iterations: 8);
        for (long it = 0; it < 8; it++)
        {
            run.Step(it);
            var before = run.Snapshot();
            var momentumBefore = run.Optimizer.State.ToDictionary(kv => kv.Key, kv => kv.Value.clone());
            run.Method.BeforeStep(run.Context, run.Optimizer, it + 1);
            var after = run.Snapshot();
            bool boundary = it + 1 is 2 or 4 or 6;
            foreach (var (name, value) in after)
            {
                bool same = Same(value, before[name]);
                if (name.StartsWith("fc.", StringComparison.Ordinal)) Assert.True(same != boundary, $"{name} after iteration {it}: changed {!same}");
                else Assert.True(same, $"{name} changed at iteration {it + 1}"); // backbone, aux_fc, BN statistics
            }
            var state = run.Optimizer.State;
            foreach (var (name, buffer) in momentumBefore)
            {
                if (boundary && name.StartsWith("fc.", StringComparison.Ordinal)) Assert.False(state.ContainsKey(name), $"{name}'s momentum survived the reset");
                else Assert.True(Same(buffer, state[name]), $"{name}'s momentum changed");
            }
            if (boundary)
            {
                // The head's start initialisation, torch.nn.Linear's: uniform in ±1/√512, and not the previous draw.
                double bound = 1 / Math.Sqrt(512);
                Assert.InRange(after["fc.weight"].abs().max().item<float>(), 0.99 * bound, bound); // 2560 draws
                Assert.InRange(after["fc.bias"].abs().max().item<float>(), 1e-3 * bound, bound); // 5 draws, not zeros
            }
        }
    }

    [Fact]
    public void ReinitialisationDependsOnlyOnTheRunSeedAndTheBoundary()
    {
        using var scope = NewDisposeScope();
        Tensor HeadAfterBoundary(int seed, long boundaryIteration, long stepsBefore)
        {
            using var run = Run.Start(seed, iterations: 8);
            for (long it = 0; it < stepsBefore; it++) run.Step(it); // the head's values before do not matter
            run.Method.BeforeStep(run.Context, run.Optimizer, boundaryIteration);
            return run.Student.state_dict()["fc.weight"].detach().clone().MoveToOuterDisposeScope();
        }
        var a = HeadAfterBoundary(42, 2, stepsBefore: 1);
        Assert.True(Same(a, HeadAfterBoundary(42, 2, stepsBefore: 2)));
        Assert.False(Same(a, HeadAfterBoundary(43, 2, stepsBefore: 1)));
        Assert.False(Same(a, HeadAfterBoundary(42, 4, stepsBefore: 1)));
    }

    [Fact]
    public void ResetStateMakesTheNextStepAFirstStepForAdamToo()
    {
        using var scope = NewDisposeScope();
        var p = new TorchSharp.Modules.Parameter(ones(3));
        var q = new TorchSharp.Modules.Parameter(ones(2));
        using var adam = new Adam([("p", p, false), ("q", q, false)], 0.1);
        p.grad = ones(3);
        q.grad = ones(2);
        adam.Step();
        adam.ResetState([p]);
        Assert.Equal(["exp_avg.q", "exp_avg_sq.q", "step.q"], adam.State.Keys.Order(StringComparer.Ordinal));
        Assert.Throws<ArgumentException>(() => adam.ResetState([new TorchSharp.Modules.Parameter(ones(1))]));
    }
}

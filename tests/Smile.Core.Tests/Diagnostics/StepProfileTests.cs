using Smile.Bench;
using Smile.Models;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Diagnostics;

/// <summary>
/// The profiled SMILE step (the engine's TrainingStep with a stage clock) must be the trainer's sequence written out by hand:
/// the same loss terms as <see cref="SmileRegularizer.Loss"/> and the same
/// update of the student (backward + Nesterov SGD) and of the teacher (the EMA at iteration 0, none at 1), starting
/// from identical models and the same mix draws. Tiny ResNet-18 (32x32, batch 4, 5 classes, a 10-class teacher).
/// </summary>
public sealed class StepProfileTests
{
    private const int Batch = 4, Size = 32, Classes = 5, SourceClasses = 10;

    private sealed class Pair : IDisposable
    {
        public ImageClassifier Teacher { get; }
        public ImageClassifier Student { get; }
        public TrainingContext Context { get; }
        public NesterovSgd Sgd { get; }

        /// <summary><paramref name="copyFrom"/>: start from that pair's weights (copied before the context takes its
        /// L2-SP anchor), not from a re-seeding, which tests running beside this one could disturb.</summary>
        public Pair(LossOptions options, Pair? copyFrom = null)
        {
            // Different seeds for the two networks, so that the mean-teacher update moves the teacher visibly.
            torch.random.manual_seed(11);
            Teacher = ModelFactory.Create("resnet18", SourceClasses);
            Teacher.eval();
            foreach (var p in Teacher.parameters()) p.requires_grad = false;
            torch.random.manual_seed(12);
            Student = ModelFactory.Create("resnet18", Classes, SourceClasses);
            Student.train();
            if (copyFrom is not null) CopyState(copyFrom, this);
            Context = new TrainingContext(Student, Teacher, options);
            Sgd = new NesterovSgd(Student.named_parameters().Select(p => (p.name, p.parameter, true)), 0.05);
        }

        public void Dispose()
        {
            Sgd.Dispose();
            Context.Dispose();
            Student.Dispose();
            Teacher.Dispose();
        }
    }

    public static TheoryData<double> L2spLambdas() => new() { 0.0, 0.5 };

    [Theory]
    [MemberData(nameof(L2spLambdas))]
    public void ProfiledStepComputesTheRegularizersLossAndUpdate(double l2sp)
    {
        var options = new LossOptions(L2spLambda: l2sp);
        using var real = new Pair(options);
        using var profiled = new Pair(options, copyFrom: real);
        AssertSameState(real, profiled, "at the start");

        var rng = new Random(3);
        var images = Enumerable.Range(0, Batch * 3 * Size * Size).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var labels = Enumerable.Range(0, Batch).Select(i => (long)(i % Classes)).ToArray();
        using var regularizer = (SmileRegularizer)Smile.Methods.Regularizers.Configure("smile", new MethodValues().With("ema_decay", 0.9));
        var profile = new StepProfile(profiled.Context, profiled.Sgd, regularizer);
        var realMix = new Random(5);
        var profileMix = new Random(5);
        var stageMs = new double[StepStages.Names.Count];

        for (int iteration = 0; iteration < 2; iteration++)
        {
            // The trainer's sequence (Trainer.Run) on the real regularizer.
            var expected = new Dictionary<string, double>();
            using (NewDisposeScope())
            {
                var x = tensor(images, [Batch, 3, Size, Size]);
                var y = tensor(labels);
                real.Sgd.ZeroGrad();
                var losses = regularizer.Loss(real.Context, new StepBatch(x, y), MixPlan.Draw(realMix, regularizer.Alpha, Batch));
                foreach (var (name, value) in losses.Terms) expected[name] = value.item<float>();
                expected["total"] = losses.Total.item<float>();
                expected["accuracy"] = losses.Accuracy!.item<float>();
                losses.Total.backward();
                real.Sgd.Step();
                regularizer.AfterStep(real.Context, iteration);
            }

            var actual = profile.Step(images, labels, Size, profileMix, iteration, stageMs);

            Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
            Assert.Equal(l2sp > 0, actual.ContainsKey("l2sp"));
            foreach (var (name, value) in expected)
                Assert.True(Math.Abs(actual[name] - value) <= 1e-6 * Math.Abs(value) + 1e-9, $"iteration {iteration}, {name}: profiled {actual[name]}, regularizer {value}");
            AssertSameState(real, profiled, $"after iteration {iteration}");
        }
        Assert.All(stageMs, ms => Assert.True(ms >= 0));
        Assert.True(stageMs[(int)StepStage.StudentForward] > 0 && stageMs[(int)StepStage.Backward] > 0 && stageMs[(int)StepStage.Ema] > 0);
    }

    [Fact]
    public void RunnerWithoutPeerGivesEveryStageForEachRound()
    {
        var readings = ProfileRunner.Steps("resnet18", Size, Batch, rounds: 2, peer: null);
        Assert.Equal(2, readings.Smile.Count);
        Assert.Empty(readings.Torch);
        Assert.All(readings.Smile, r => Assert.Equal(StepStages.Names.Count, r.Length));
        var table = ProfileTable.Format("stage", [("", readings)]);
        Assert.Equal(StepStages.Names.Count + 2, table.Count); // header, stages, total
        Assert.EndsWith("-", table[^1]); // no PyTorch: no ratio
    }

    private static void CopyState(Pair from, Pair to)
    {
        using var noGrad = no_grad();
        foreach (var (source, target) in new[] { (from.Student, to.Student), (from.Teacher, to.Teacher) })
        {
            var targets = target.state_dict();
            foreach (var (name, t) in source.state_dict()) targets[name].copy_(t);
        }
    }

    /// <summary>Student parameters and buffers, and teacher parameters, equal to 1e-6 of each tensor's largest entry.</summary>
    private static void AssertSameState(Pair a, Pair b, string when)
    {
        using var scope = NewDisposeScope();
        foreach (var (net, x, y) in new[] { ("student", a.Student, b.Student), ("teacher", a.Teacher, b.Teacher) })
        {
            var other = y.state_dict();
            foreach (var (name, t) in x.state_dict())
            {
                var u = other[name];
                if (t.dtype != ScalarType.Float32) { Assert.True(t.equal(u).item<bool>(), $"{net} {name} {when}"); continue; }
                double diff = (t - u).abs().max().item<float>(), scale = t.abs().max().item<float>();
                Assert.True(diff <= 1e-6 * scale + 1e-12, $"{net} {name} differs {when}: {diff} (scale {scale})");
            }
        }
    }
}

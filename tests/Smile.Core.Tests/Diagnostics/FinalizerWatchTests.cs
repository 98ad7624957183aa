using Smile.Diagnostics;
using Smile.Evaluation;
using Smile.Models;
using Smile.Tests.Training;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Diagnostics;

/// <summary>Runs alone: the finalizer watch counts every Scalar the process finalizes, so another test's running
/// alongside would be counted too.</summary>
[CollectionDefinition(nameof(FinalizerWatchCollection), DisableParallelization = true)]
public sealed class FinalizerWatchCollection;

/// <summary>
/// No TorchSharp Scalar reaches the finalizer in the library's hot paths (the use-after-free hazard of
/// docs/DESIGN.md, "Scalars"). The analyzer (SMILE001) sees Smile's code; this sees what runs, TorchSharp's own
/// internals included, which is how <c>Tensor.square()</c> (a <c>pow(2)</c> with a 2 made inside TorchSharp) was found.
/// The CLI tests run every `smile` verb under the same watch (tests/Smile.Cli.Tests/SmileProcess.cs).
/// </summary>
[Collection(nameof(FinalizerWatchCollection))]
public sealed class FinalizerWatchTests
{
    private const int Batch = 4, Size = 32, Classes = 3, SourceClasses = 10;

    [Fact]
    public void AScalarLeftToTheFinalizerIsCounted()
    {
        using var a = ones(2, 3);
        using var b = ones(2, 3);
        long finalized = FinalizedScalars(() =>
        {
            for (int i = 0; i < 20; i++)
            {
#pragma warning disable SMILE001 // the planted form: an alpha of 1 made inside TorchSharp and not disposed
                using var sum = a + b;
#pragma warning restore SMILE001
            }
        });
        Assert.Equal(20, finalized);
    }

    [Fact]
    public void AHeldScalarIsNotCounted()
    {
        using var a = ones(2, 3);
        using var b = ones(2, 3);
        long finalized = FinalizedScalars(() =>
        {
            for (int i = 0; i < 20; i++)
            {
                using var sum = a.Plus(b);
                using var squared = sum.Squared();
            }
        });
        Assert.Equal(0, finalized);
    }

    [Fact]
    public void AReportLineNamesItsScalarsFirst()
    {
        var line = FinalizerWatch.ReportPrefix + FinalizerWatch.Describe(new Dictionary<string, long> { ["Tensor"] = 3, ["Scalar"] = 7 });
        Assert.Equal(FinalizerWatch.ReportPrefix + "Scalar 7, Tensor 3", line);
        Assert.Equal(7, FinalizerWatch.ScalarsIn(line));
        Assert.Equal(0, FinalizerWatch.ScalarsIn(FinalizerWatch.Describe(new Dictionary<string, long>())));
        Assert.Throws<FormatException>(() => FinalizerWatch.ScalarsIn("Tensor 3"));
    }

    [Theory]
    [MemberData(nameof(StepMethods.WithOptimizers), MemberType = typeof(StepMethods))]
    public void NoMethodsTrainingStepLeavesAScalarToTheFinalizer(string methodName, string optimizerName) =>
        Assert.Equal(0, FinalizedScalars(() => RunSteps(methodName, optimizerName, "fp32")));

    [Theory]
    [InlineData("smile", "bf16")]
    [InlineData("smile", "fp16")]
    [InlineData("l2", "fp16")]
    public void NorAMixedPrecisionStep(string methodName, string precision) =>
        Assert.Equal(0, FinalizedScalars(() => RunSteps(methodName, "sgd", precision)));

    [Fact]
    public void NorAnEvaluationACheckpointRoundTripOrTheFoldedForward()
    {
        var root = Directory.CreateTempSubdirectory("smile-finalizer-").FullName;
        try
        {
            long finalized = FinalizedScalars(() =>
            {
                string path = Path.Combine(root, "run_Best.safetensors");
                using (var model = ModelFactory.Create("resnet18", Classes))
                    Smile.Weights.Checkpoint.Save(path, model, new Smile.Weights.CheckpointInfo("resnet18", ["a", "b", "c"], null, Size,
                        [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], 0, 0, "l2", new Dictionary<string, string>()));
                using var trained = TrainedModel.Load(path, CPU);
                var images = Directory.CreateDirectory(Path.Combine(root, "images")).FullName;
                for (int c = 0; c < Classes; c++)
                {
                    var dir = Directory.CreateDirectory(Path.Combine(images, $"c{c}")).FullName;
                    Smile.Data.SyntheticPhotos.WriteJpeg(Smile.Data.SyntheticPhotos.Render(40, 36, c), Path.Combine(dir, "0.jpg"));
                }
                var loader = new Smile.Data.BatchLoader(
                    Smile.Data.ImageFolder.ForEvaluation(images, ["c0", "c1", "c2"]), Smile.Data.TransformSpec.ForEvaluation(Size),
                    new Smile.Data.LoaderOptions(BatchSize: 2, Workers: 1, Shuffle: false, DropLast: false));
                var result = Evaluator.Evaluate(trained.Model, loader, CPU);
                Assert.Equal(Classes, result.Count);
                using var scope = NewDisposeScope();
                using var folded = new FoldedResNet((ResNet)trained.Model);
                Assert.Equal(new long[] { 2, Classes }, folded.Forward(randn(2, 3, Size, Size)).Logits.shape);
            });
            Assert.Equal(0, finalized);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>The Scalars finalized while <paramref name="work"/> ran (and by the collections after it).</summary>
    private static long FinalizedScalars(Action work)
    {
        using var watch = new FinalizerWatch();
        long before = watch.SettledScalars();
        work();
        return watch.SettledScalars() - before;
    }

    /// <summary>Two steps of the method, as DeviceGuardTests runs them, in the given arithmetic.</summary>
    private static void RunSteps(string methodName, string optimizerName, string precision)
    {
        torch.random.manual_seed(3);
        using var method = StepMethods.Create(methodName, Classes, SourceClasses, CPU);
        using var teacher = method.NeedsTeacher ? ModelFactory.Create("resnet18", SourceClasses) : null;
        teacher?.eval();
        using var student = ModelFactory.Create("resnet18", Classes, method.NeedsTeacher ? SourceClasses : null);
        student.train();
        using var ctx = new TrainingContext(student, teacher, new LossOptions(1e-4, method.DefaultL2spLambda))
        {
            Precision = MixedPrecision.Create(precision, out _),
        };
        using var optimizer = Optimizers.Create(optimizerName,
            student.named_parameters().Select(p => (p.name, p.parameter, method.WeightDecayApplies(p.name))), 0.01, 1e-4);
        var random = new Random(5);
        for (int i = 0; i < 2; i++)
        {
            using var scope = NewDisposeScope();
            var batch = new StepBatch(randn(Batch, 3, Size, Size), randint(0, Classes, Batch));
            var mix = method.UsesMixup ? method.DrawMix(random, Batch) : null;
            var result = TrainingStep.Run(ctx, method.ForIteration(i, 10_000), optimizer, batch, mix, i);
            Assert.True(result.Finite || result.UpdateSkipped, $"{methodName} step {i}: loss {result.Loss}");
        }
    }
}

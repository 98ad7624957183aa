using Smile.Data;
using Smile.Training;
using Smile.WeakShot;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.WeakShot;

/// <summary>Tiny generated base classes (4 classes told apart by colour channel and stripes) and held-out images.</summary>
public sealed class TinyBaseFixture : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("smile-simnet-").FullName;
    public string Train => Path.Combine(Root, "train");
    public string Val => Path.Combine(Root, "val");

    public TinyBaseFixture()
    {
        SyntheticPhotos.WriteImageFolder(Train, classes: 4, imagesPerClass: 12, seed: 1, size: 40);
        SyntheticPhotos.WriteImageFolder(Val, classes: 4, imagesPerClass: 6, seed: 2, size: 40);
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>Runs alone: a run seeds LibTorch's global generator and draws its initialisation from it, so a test
/// seeding or drawing on another thread at the same time would change it (and the resume test compares two runs).</summary>
[CollectionDefinition(nameof(SimNetTrainingCollection), DisableParallelization = true)]
public sealed class SimNetTrainingCollection;

[Collection(nameof(SimNetTrainingCollection))]
public sealed class SimNetTrainerTests(TinyBaseFixture data, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<TinyBaseFixture>
{
    /// <summary>Records every step's loss and the live tensors of the training thread at that step.</summary>
    private sealed class Recorder(Action<StepReport>? onStep = null) : ITrainingMonitor
    {
        public List<(long Step, double Loss, long LiveTensors)> Steps { get; } = [];

        public void OnStep(StepReport step)
        {
            Steps.Add((step.Iteration, step.Loss, DisposeScopeManager.Statistics.ThreadTotalLiveCount));
            onStep?.Invoke(step);
        }
    }

    private SimNetOptions Options(string save, int epochs) => new()
    {
        BaseDir = data.Train, ValSplit = 0, ValDir = data.Val, ModelArch = "shallow_cnn", ImageSize = 32,
        ClassesPerBatch = 4, BatchSize = 12, Epochs = epochs, Lr = 0.05, LrStep = 4, ItersPerEpoch = 4, Seed = 11,
        Save = Path.Combine(data.Root, save), LogDir = Path.Combine(data.Root, save, "tb"), Workers = 2, PrintFrequency = 1,
    };

    /// <summary>
    /// Six epochs of 4 steps from a random shallow CNN: the pair loss must fall, and the held-out F1 of "similar"
    /// must beat what saying "similar" to every pair scores (precision = the positive fraction p, recall 1, F1 =
    /// 2p/(1+p), 0.31 at 4 classes x 3 images) by a margin. The live tensors of the training thread must be the
    /// same at the start of the second and of the last epoch (nothing leaks per step, validation or checkpoint).
    /// </summary>
    [Fact]
    public void AFewEpochsLowerThePairLossAndBeatChanceF1WithoutLeakingTensors()
    {
        var recorder = new Recorder();
        var o = Options("learn", epochs: 6);
        var summary = new SimNetTrainer(o, Serilog.Core.Logger.None, recorder).Run();

        Assert.Equal(24, recorder.Steps.Count);
        double first = recorder.Steps.Take(4).Average(s => s.Loss), last = recorder.Steps.TakeLast(4).Average(s => s.Loss);
        Assert.True(last < 0.7 * first, $"mean pair loss of the first epoch {first:F4}, of the last {last:F4}");
        var counts = summary.LastValidation!.Counts;
        double p = (double)counts.Positives / counts.Pairs, allSimilar = 2 * p / (1 + p);
        output.WriteLine($"pair loss {first:F4} -> {last:F4}; best F1 {summary.BestF1:F4} at epoch {summary.BestEpoch} (all-similar {allSimilar:F4}); {counts}");
        Assert.True(summary.BestF1 > allSimilar + 0.2, $"best F1 {summary.BestF1:F4}, all-similar F1 {allSimilar:F4}");
        Assert.Equal(recorder.Steps[4].LiveTensors, recorder.Steps[20].LiveTensors);

        var (net, info, extra) = SimNetCheckpoint.Load(o.BestPath, CPU);
        using (net)
        {
            Assert.Empty(extra); // _Best is the network only
            Assert.Equal(["class_00", "class_01", "class_02", "class_03"], info.BaseClasses);
            Assert.Equal(summary.BestEpoch, info.Epoch);
            Assert.Equal(summary.BestF1, info.BestF1);
            Assert.Equal("0", info.Arguments["adversarial_weight"]);
        }
    }

    /// <summary>
    /// A run stopped mid-epoch (the token is cancelled after the 6th step, as Ctrl-C does) writes _Last with its
    /// place in the epoch; resumed, it continues with exactly the losses of an uninterrupted run: the sampler is
    /// replayed, the augmentation and both optimizers' momentum (the discriminator's too) carry over.
    /// </summary>
    [Fact]
    public void AnInterruptedRunResumesMidEpochWithTheLossesOfAStraightOne()
    {
        var web = Path.Combine(data.Root, "web");
        lock (data) if (!Directory.Exists(web)) SyntheticPhotos.WriteImageFolder(web, classes: 3, imagesPerClass: 5, seed: 9, size: 40);
        SimNetOptions Adversarial(string save) => Options(save, epochs: 2) with { WebDir = web, AdversarialWeight = 0.1 };

        var straight = new Recorder();
        new SimNetTrainer(Adversarial("straight"), Serilog.Core.Logger.None, straight).Run();

        using var stop = new CancellationTokenSource();
        var first = new Recorder(s => { if (s.Iteration == 5) stop.Cancel(); });
        var o = Adversarial("stopped");
        var interrupted = new SimNetTrainer(o, Serilog.Core.Logger.None, first).Run(stop.Token);
        Assert.True(interrupted.Interrupted);
        var info = SimNetCheckpoint.ReadInfo(o.LastPath);
        Assert.Equal(1, info.Epoch);                          // one epoch done,
        Assert.Equal("2", info.Arguments["step_in_epoch"]);   // two steps of the second
        var second = new Recorder();
        var resumed = new SimNetTrainer(o with { Resume = true }, Serilog.Core.Logger.None, second).Run();
        Assert.False(resumed.Interrupted);
        Assert.Equal(1, resumed.StartEpoch);
        Assert.Equal(straight.Steps.Skip(6).Select(s => (s.Step, s.Loss)), second.Steps.Select(s => (s.Step, s.Loss)));
    }

    /// <summary>
    /// `precision` bf16 and fp16: the same run (seed, batches, initialisation) as fp32, whose first step's pair loss
    /// the mixed-precision one matches within 5% without being equal (the forwards did run under autocast); every
    /// loss is finite and nothing leaks per step. fp16 keeps its loss scale in _Last, and a run stopped after its
    /// 6th step resumes with exactly the losses of a straight fp16 run.
    /// </summary>
    [Theory]
    [InlineData("bf16")]
    [InlineData("fp16")]
    public void MixedPrecisionTrainsNearFp32AndResumesExactly(string precision)
    {
        var fp32 = new Recorder();
        new SimNetTrainer(Options($"{precision}-fp32", epochs: 2), Serilog.Core.Logger.None, fp32).Run();
        SimNetOptions Mixed(string save) => Options(save, epochs: 2) with { Precision = precision };
        var straight = new Recorder();
        new SimNetTrainer(Mixed($"{precision}-straight"), Serilog.Core.Logger.None, straight).Run();

        Assert.Equal(8, straight.Steps.Count);
        Assert.All(straight.Steps, s => Assert.True(double.IsFinite(s.Loss), $"{precision} step {s.Step}: loss {s.Loss}"));
        double reference = fp32.Steps[0].Loss, mixed = straight.Steps[0].Loss;
        output.WriteLine($"{precision}: first pair loss {mixed:F6} against fp32's {reference:F6}");
        Assert.True(Math.Abs(mixed - reference) <= 0.05 * reference, $"{precision} first loss {mixed}, fp32 {reference}");
        Assert.NotEqual(reference, mixed);
        Assert.Equal(straight.Steps[2].LiveTensors, straight.Steps[7].LiveTensors);

        using var stop = new CancellationTokenSource();
        var o = Mixed($"{precision}-stopped");
        new SimNetTrainer(o, Serilog.Core.Logger.None, new Recorder(s => { if (s.Iteration == 5) stop.Cancel(); })).Run(stop.Token);
        var state = SimNetCheckpoint.ReadInfo(o.LastPath).RunState!;
        Assert.Equal(precision == "fp16", RunProgress.FromJson(state)!.LossScale is not null);
        var second = new Recorder();
        new SimNetTrainer(o with { Resume = true }, Serilog.Core.Logger.None, second).Run();
        Assert.Equal(straight.Steps.Skip(6).Select(s => (s.Step, s.Loss)), second.Steps.Select(s => (s.Step, s.Loss)));
    }
}

public sealed class PairMetricsTests
{
    /// <summary>
    /// Four images, labels (0, 0, 1, 0) and image ids (7, 8, 9, 7): slot 3 repeats image 7 of slot 0. S_ab > 0.5
    /// is set by hand for the pairs (0,1), (1,0), (0,2), (2,3) and the self-pairs. Counted pairs: the 16 ordered
    /// pairs minus the 4 self-pairs and (0,3), (3,0) (the same image twice) = 10. Same label among them: (0,1),
    /// (1,0), (1,3), (3,1) = 4. Predicted similar: (0,1), (1,0), (0,2), (2,3) -> TP 2, FP 2, FN 2, TN 4;
    /// precision 0.5, recall 0.5, F1 0.5.
    /// </summary>
    [Fact]
    public void CountsSimilarPairsOfTwoDifferentImagesByHand()
    {
        using var scope = NewDisposeScope();
        var similar = new HashSet<(int, int)> { (0, 1), (1, 0), (0, 2), (2, 3), (0, 0), (1, 1), (2, 2), (3, 3) };
        var logits = new float[32];
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++)
                logits[(a * 4 + b) * 2 + (similar.Contains((a, b)) ? 1 : 0)] = 2f; // the other logit stays 0
        var counts = PairMetrics.Count(tensor(logits, [16, 2]), tensor(new long[] { 0, 0, 1, 0 }), [7, 8, 9, 7]);
        Assert.Equal(new PairCounts(2, 2, 2, 4), counts);
        Assert.Equal(10, counts.Pairs);
        Assert.Equal(4, counts.Positives);
        Assert.Equal(0.5, counts.Precision, 12);
        Assert.Equal(0.5, counts.Recall, 12);
        Assert.Equal(0.5, counts.F1, 12);
        // S exactly 0.5 (equal logits) is not "similar".
        Assert.Equal(0, PairMetrics.Count(zeros(16, 2), tensor(new long[] { 0, 0, 1, 0 }), [7, 8, 9, 7]).TruePositives);
    }

    [Fact]
    public void F1IsTheHarmonicMeanAndZeroWithoutPredictedPositives()
    {
        var c = new PairCounts(TruePositives: 3, FalsePositives: 1, FalseNegatives: 5, TrueNegatives: 11);
        Assert.Equal(0.75, c.Precision, 12);
        Assert.Equal(0.375, c.Recall, 12);
        Assert.Equal(0.5, c.F1, 12); // 2 * 0.75 * 0.375 / 1.125
        var none = new PairCounts(0, 0, 4, 12);
        Assert.Equal(0, none.Precision);
        Assert.Equal(0, none.F1);
        Assert.Equal(new PairCounts(3, 1, 9, 23), c + none);
    }
}

using Smile.Data;
using Smile.Evaluation;
using Smile.Models;
using static TorchSharp.torch;

namespace Smile.Tests.Evaluation;

/// <summary>EvaluateWithOutputs: the figures Evaluate gives, plus logits and labels that reproduce them.</summary>
public sealed class EvaluatorOutputsTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("smile-evalout-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public void TheOutputsReproduceTheFiguresOfEvaluate()
    {
        int seed = 0;
        foreach (var (name, count) in new[] { ("a", 4), ("b", 3), ("c", 4) })
        {
            var dir = Directory.CreateDirectory(Path.Combine(root, name)).FullName;
            for (int i = 0; i < count; i++)
                SyntheticPhotos.WriteJpeg(SyntheticPhotos.Render(40 + 7 * i, 30 + 5 * i, seed++), Path.Combine(dir, $"{i}.jpg"));
        }
        var folder = ImageFolder.ForEvaluation(root, new[] { "a", "b", "c" });
        var spec = TransformSpec.ForEvaluation(32);
        manual_seed(9);
        using var model = ModelFactory.Create("resnet18", 3);
        BatchLoader Loader() => new(folder, spec, new LoaderOptions(BatchSize: 4, Workers: 2, Shuffle: false, DropLast: false));

        var plain = Evaluator.Evaluate(model, Loader(), CPU);
        var (result, outputs) = Evaluator.EvaluateWithOutputs(model, Loader(), CPU);
        Assert.Equal(plain with { Seconds = 0 }, result with { Seconds = 0 });

        Assert.Equal(11, outputs.Count);
        Assert.Equal(3, outputs.Classes);
        Assert.Equal(folder.Samples.Select(s => s.Label), outputs.Labels); // in the folder's order, across 3 batches
        Assert.Equal(folder.Samples.Select(s => s.Path), outputs.Paths);
        var p = outputs.Probabilities();
        Assert.Equal(result.Top1, CalibrationMetrics.Accuracy(p, outputs.Labels, 3), 12);
        Assert.Equal(result.Loss, TemperatureScaling.Nll(outputs, 1.0), 5);     // float32 log_softmax against double
        Assert.Equal(result.Ece, CalibrationMetrics.Ece(p, outputs.Labels, 3), 5); // same 15 bins, same convention
    }

    [Fact]
    public void ChannelsLastEvaluationFeedsNhwcBatchesAndGivesTheNchwFigures()
    {
        int seed = 0;
        foreach (var (name, count) in new[] { ("a", 3), ("b", 3) })
        {
            var dir = Directory.CreateDirectory(Path.Combine(root, name)).FullName;
            for (int i = 0; i < count; i++)
                SyntheticPhotos.WriteJpeg(SyntheticPhotos.Render(40 + 7 * i, 30 + 5 * i, seed++), Path.Combine(dir, $"{i}.jpg"));
        }
        var folder = ImageFolder.ForEvaluation(root, new[] { "a", "b" });
        BatchLoader Loader() => new(folder, TransformSpec.ForEvaluation(32), new LoaderOptions(BatchSize: 4, Workers: 1, Shuffle: false, DropLast: false));

        using var recorder = new LayoutRecorder();
        Evaluator.Evaluate(recorder, Loader(), CPU, channelsLast: true);
        Assert.Equal([true, true], recorder.Seen);
        recorder.Seen.Clear();
        Evaluator.Evaluate(recorder, Loader(), CPU);
        Assert.Equal([false, false], recorder.Seen);

        manual_seed(10); // a ResNet (the folded path, its weights made NHWC too): the same figures
        using var model = ModelFactory.Create("resnet18", 2);
        var nchw = Evaluator.Evaluate(model, Loader(), CPU);
        var nhwc = Evaluator.Evaluate(model, Loader(), CPU, channelsLast: true);
        Assert.Equal(nchw.Top1, nhwc.Top1);
        Assert.Equal(nchw.Loss, nhwc.Loss, 4);
    }

    /// <summary>Records, per batch, whether its images arrived with NHWC strides.</summary>
    private sealed class LayoutRecorder : ImageClassifier
    {
        private readonly TorchSharp.Modules.Linear head = TorchSharp.torch.nn.Linear(3, 2);

        public List<bool> Seen { get; } = [];

        public LayoutRecorder() : base("recorder") => RegisterComponents();

        public override string Architecture => "recorder";
        public override string HeadName => "head";
        public override int NumClasses => 2;
        public override int? AuxClasses => null;
        public override int FeatureChannels => 3;

        public override ClassifierOutput forward(Tensor images)
        {
            Seen.Add(images.stride(1) == 1 && images.stride(3) == images.shape[1]);
            using var scope = NewDisposeScope();
            var features = images.mean([2, 3], keepdim: true);
            return ClassifierOutput.LeavingScope(head.call(features.flatten(1)), features, null);
        }
    }

    [Fact]
    public void UnreadableImagesAreLeftOutAndListedNotReplaced()
    {
        var clean = Path.Combine(root, "clean");
        var damaged = Path.Combine(root, "damaged");
        int seed = 0;
        foreach (var (name, count) in new[] { ("a", 5), ("b", 4) })
            for (int i = 0; i < count; i++)
            {
                var photo = SyntheticPhotos.Render(40 + 3 * i, 36 + 2 * i, seed++);
                foreach (var set in new[] { clean, damaged })
                    SyntheticPhotos.WriteJpeg(photo, Path.Combine(Directory.CreateDirectory(Path.Combine(set, name)).FullName, $"{i}.jpg"));
            }
        File.WriteAllBytes(Path.Combine(damaged, "a", "2x.jpg"), new byte[] { 0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3 });
        File.WriteAllText(Path.Combine(damaged, "b", "0x.png"), "not a picture");
        var spec = TransformSpec.ForEvaluation(32);
        manual_seed(4);
        using var model = ModelFactory.Create("shallow_cnn", 2);
        BatchLoader Loader(string folder, UnreadableImagePolicy? policy = null) =>
            new(ImageFolder.ForEvaluation(folder, new[] { "a", "b" }), spec, new LoaderOptions(BatchSize: 3, Workers: 2, Shuffle: false, DropLast: false, OnUnreadable: policy));

        var (expected, expectedOutputs) = Evaluator.EvaluateWithOutputs(model, Loader(clean), CPU);
        var (result, outputs) = Evaluator.EvaluateWithOutputs(model, Loader(damaged), CPU);
        Assert.Equal(9, result.Count); // 11 files, 9 readable: each counted once
        Assert.Equal(new[] { Path.Combine(damaged, "a", "2x.jpg"), Path.Combine(damaged, "b", "0x.png") }, result.Skipped.Select(s => s.Path));
        Assert.Empty(expected.Skipped);
        // The same figures as the folder without the two files (batches of other sizes: float rounding may differ).
        Assert.Equal(expected.Count, result.Count);
        Assert.Equal(expected.Top1, result.Top1, 12);
        Assert.Equal(expected.Loss, result.Loss, 5);
        Assert.Equal(expectedOutputs.Labels, outputs.Labels);
        // Each row keeps its own file once the unreadable ones are closed up.
        Assert.Equal(expectedOutputs.Paths!.Select(p => Path.GetRelativePath(clean, p)), outputs.Paths!.Select(p => Path.GetRelativePath(damaged, p)));
        Assert.Equal(expectedOutputs.Logits.Length, outputs.Logits.Length);
        for (int i = 0; i < outputs.Logits.Length; i++) Assert.Equal(expectedOutputs.Logits[i], outputs.Logits[i], 4);

        // A replacing loader would count an image twice: evaluation refuses it.
        Assert.Throws<ArgumentException>(() => Evaluator.Evaluate(model, Loader(damaged, UnreadableImagePolicy.Replace), CPU));
        var unreadable = Path.Combine(root, "unreadable", "a");
        Directory.CreateDirectory(unreadable);
        File.WriteAllText(Path.Combine(unreadable, "0.jpg"), "no");
        var error = Assert.Throws<DataException>(() => Evaluator.Evaluate(model,
            new BatchLoader(ImageFolder.ForEvaluation(Path.GetDirectoryName(unreadable)!, new[] { "a", "b" }), spec, new LoaderOptions(BatchSize: 3, Shuffle: false, DropLast: false)), CPU));
        Assert.StartsWith("none of the 1 images could be read", error.Message);
    }
}

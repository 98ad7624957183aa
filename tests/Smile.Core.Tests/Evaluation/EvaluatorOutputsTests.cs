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
        var p = outputs.Probabilities();
        Assert.Equal(result.Top1, CalibrationMetrics.Accuracy(p, outputs.Labels, 3), 12);
        Assert.Equal(result.Loss, TemperatureScaling.Nll(outputs, 1.0), 5);     // float32 log_softmax against double
        Assert.Equal(result.Ece, CalibrationMetrics.Ece(p, outputs.Labels, 3), 5); // same 15 bins, same convention
    }
}

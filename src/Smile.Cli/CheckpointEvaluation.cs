using Smile.Data;
using Smile.Evaluation;
using Smile.Weights;
using static TorchSharp.torch;

namespace Smile.Cli;

/// <summary>What `test` and `calibrate` both do first: load a checkpoint, read a folder against its classes
/// (warnings on stderr), and evaluate it, keeping the logits.</summary>
internal static class CheckpointEvaluation
{
    public static (CheckpointInfo Info, EvalResult Result, EvalOutputs Outputs) Run(string checkpoint, string folderPath, int batchSize, int workers,
        Device device, string? expectedArch = null)
    {
        using var trained = TrainedModel.Load(checkpoint, device, expectedArch);
        var folder = ImageFolder.ForEvaluation(folderPath, trained.Info.Classes);
        foreach (var warning in folder.Warnings) Console.Error.WriteLine($"warning: {warning}");
        var loader = new BatchLoader(folder, trained.Transform, new LoaderOptions(batchSize, workers, Shuffle: false, DropLast: false));
        var (result, outputs) = Evaluator.EvaluateWithOutputs(trained.Model, loader, device);
        return (trained.Info, result, outputs);
    }
}

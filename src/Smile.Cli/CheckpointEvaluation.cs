using Smile.Data;
using Smile.Evaluation;
using Smile.Training;
using Smile.Weights;
using static TorchSharp.torch;

namespace Smile.Cli;

/// <summary>What `test` and `calibrate` both do first: load a checkpoint, read a folder against its classes
/// (warnings on stderr), and evaluate it with a progress line on a terminal, keeping the logits and image files. An unreadable image is left out and named on stderr
/// (or, with <c>strictImages</c>, stops the command), never replaced: the figures count each readable image once.</summary>
internal static class CheckpointEvaluation
{
    public static (CheckpointInfo Info, EvalResult Result, EvalOutputs Outputs) Run(string checkpoint, string folderPath, int batchSize, int workers,
        Device device, string? expectedArch = null, bool strictImages = false, Smile.Training.MixedPrecision? precision = null) =>
        Run(checkpoint, new FolderSource(folderPath), batchSize, workers, device, expectedArch, strictImages, precision);

    /// <summary>As the other overload, for a folder or a list file (<see cref="DatasetSource"/>).</summary>
    public static (CheckpointInfo Info, EvalResult Result, EvalOutputs Outputs) Run(string checkpoint, DatasetSource data, int batchSize, int workers,
        Device device, string? expectedArch = null, bool strictImages = false, Smile.Training.MixedPrecision? precision = null)
    {
        using var trained = TrainedModel.Load(checkpoint, device, expectedArch);
        var folder = data.ForEvaluation(trained.Info.Classes);
        var console = StatusConsole.ForStandardError();
        foreach (var warning in folder.Warnings) console.WriteLine($"warning: {warning}");
        var loader = new BatchLoader(folder, trained.Transform, new LoaderOptions(batchSize, workers, Shuffle: false, DropLast: false,
            StrictImages: strictImages, OnUnreadable: UnreadableImagePolicy.Skip));
        EvalResult result;
        EvalOutputs outputs;
        using (var display = new ProgressDisplay(console))
            (result, outputs) = Evaluator.EvaluateWithOutputs(trained.Model, loader, device,
                new SynchronousProgress<int>(images => display.OnEvalProgress(images, folder.Samples.Count)), precision: precision,
                channelsLast: new CudaSpeed().ForRun(trained.Model, precision ?? Smile.Training.MixedPrecision.Fp32).ChannelsLastOn(device), // the speed switches' defaults
                graphs: Replay(device, console));
        foreach (var skipped in result.Skipped) console.WriteLine(SkippedLine(skipped));
        return (trained.Info, result, outputs);
    }

    private static EvalReplay? Replay(Device device, StatusConsole console) =>
        new CudaSpeed().GraphBackend(device, out _) is { } backend ? new EvalReplay(backend, w => console.WriteLine($"warning: {w}")) : null;

    /// <summary>The stderr line of one image left out (the reason names the file).</summary>
    public static string SkippedLine(SkippedImage skipped) => $"warning: unreadable image skipped: {CliErrors.WithFlags(skipped.Reason)}";

    /// <summary>The stdout line that says how many images were left out, or null when none was.</summary>
    public static string? SkippedSummary(IReadOnlyCollection<SkippedImage> skipped) => skipped.Count == 0 ? null
        : $"Unreadable images skipped: {skipped.Count} (named on stderr; not counted in any figure)";

    /// <summary>The --strict_images flag of the evaluating verbs.</summary>
    public static System.CommandLine.Option<bool> StrictImagesFlag() =>
        Flags.Make("strict_images", "Stop at the first unreadable image (exit 2) instead of skipping it with a warning.", false);
}

using System.CommandLine;
using System.Globalization;
using Smile.Data;
using Smile.Evaluation;
using Smile.Training;
using Smile.Weights;

namespace Smile.Cli.Commands;

/// <summary>`smile calibrate`: fits a temperature on a validation folder and stores it in the checkpoint,
/// where `smile test` and `smile predict` find it.</summary>
internal static class CalibrateCommand
{
    public static Command Create()
    {
        var ckpts = Flags.Optional<string>("ckpts", "A Smile checkpoint (.safetensors); its metadata gets the temperature.");
        var valDir = Flags.Optional<string>("val_dir", "Validation ImageFolder (not the test set); class folders are matched to the checkpoint's classes by name.");
        var datasets = new DatasetFlags();
        var valList = datasets.List("val_list", "Validation list file instead of --val_dir; its classes are matched to the checkpoint's by name.");
        var batch = Flags.Make("batch_size", "Evaluation batch size.", 8);
        var device = Flags.Make("device", "cpu, cuda, cuda:N or auto.", "cpu");
        var workers = Flags.Make("workers", "Data loading threads (0: the number of cores).", 0);
        var precision = EvalPrecision.Flag();
        var bins = CalibrationText.BinsFlag();
        var strictImages = CheckpointEvaluation.StrictImagesFlag();
        var command = new Command("calibrate", "Fit a temperature (temperature scaling: minimum NLL on a validation folder) and store it in the checkpoint. " +
            "An unreadable image is skipped and named on stderr.")
            { ckpts, valDir, batch, device, precision, workers, bins, strictImages };
        foreach (var option in datasets.Shared.Prepend(valList)) command.Options.Add(option);
        command.SetAction(parse =>
        {
            string checkpoint = Flags.ExistingFile(parse.GetValue(ckpts), "ckpts");
            var data = datasets.Read(parse).Required(valDir, valList);
            Flags.Require(parse.GetValue(batch) >= 1, "batch_size", "must be at least 1");
            Flags.Require(parse.GetValue(workers) >= 0, "workers", "must be 0 (all cores) or more");
            int eceBins = parse.GetValue(bins);
            Flags.Require(eceBins >= 1, "ece_bins", "must be at least 1");
            var target = DeviceSelection.Parse(parse.GetValue(device)!);
            var arithmetic = EvalPrecision.Read(parse.GetValue(precision), target);

            var (info, result, outputs) = CheckpointEvaluation.Run(checkpoint, data, parse.GetValue(batch), parse.GetValue(workers), target,
                strictImages: parse.GetValue(strictImages), precision: arithmetic);
            double? previous = info.Temperature;
            // Fitted from the raw logits: a temperature already stored is replaced, not compounded.
            double t = TemperatureScaling.Fit(outputs);
            var before = CalibrationMetrics.Compute(outputs.Probabilities(), outputs.Labels, outputs.Classes, eceBins);
            var after = CalibrationMetrics.Compute(outputs.Probabilities(t), outputs.Labels, outputs.Classes, eceBins);
            Checkpoint.WriteTemperature(checkpoint, t);

            string replaced = previous is { } p ? $", replacing {CalibrationText.Temperature(p)}" : "";
            Console.WriteLine($"Temperature: {CalibrationText.Temperature(t)} (fitted on {outputs.Count} images; stored in {checkpoint}{replaced})");
            if (CheckpointEvaluation.SkippedSummary(result.Skipped) is { } skippedLine) Console.WriteLine(skippedLine);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"NLL: {before.Nll:F4} -> {after.Nll:F4}, ECE ({eceBins} bins): {before.Ece:F4} -> {after.Ece:F4}, Acc@1: {before.Accuracy:F4} -> {after.Accuracy:F4}"));
            if (t <= TemperatureScaling.MinTemperature * 1.001 || t >= TemperatureScaling.MaxTemperature / 1.001)
                Console.Error.WriteLine($"warning: the temperature is at the bound of its search range [{TemperatureScaling.MinTemperature}, {TemperatureScaling.MaxTemperature}]: too few or unrepresentative validation images?");
            return 0;
        });
        return command;
    }
}

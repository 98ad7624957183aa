using System.CommandLine;
using System.Text.Json;
using Smile.Data;
using Smile.Evaluation;
using Smile.Training;

namespace Smile.Cli.Commands;

/// <summary>`smile test`: the reference's test.py line (loss, top-1, time) plus top-5, NLL and ECE, then the
/// calibration figures before and (when the checkpoint has a temperature) after temperature scaling, then the
/// classes with the lowest accuracy and the most frequent confusions (all of them in --json, every misclassified
/// image in --errors).</summary>
internal static class TestCommand
{
    public static Command Create()
    {
        var testDir = Flags.Optional<string>("test_dir", "Test ImageFolder; class folders are matched to the checkpoint's classes by name.");
        var datasets = new DatasetFlags();
        var testList = datasets.List("test_list", "Test list file instead of --test_dir; its classes are matched to the checkpoint's by name.");
        var ckpts = Flags.Optional<string>("ckpts", "A Smile checkpoint (.safetensors).");
        var arch = Flags.Optional<string>("model_arch", "Accepted for the reference's command lines; checked against the checkpoint.");
        var batch = Flags.Make("batch_size", "Evaluation batch size.", 8);
        var device = Flags.Make("device", "cpu, cuda, cuda:N or auto.", "cpu");
        var workers = Flags.Make("workers", "Data loading threads (0: the number of cores).", 0);
        var precision = EvalPrecision.Flag();
        var json = Flags.Optional<string>("json", "Also write the figures to this JSON file.");
        var bins = CalibrationText.BinsFlag();
        var noTemperature = CalibrationText.NoTemperatureFlag();
        var plots = Flags.Optional<string>("plots", "Write reliability.png (before/after temperature scaling) and confusion.png into this folder.");
        var strictImages = CheckpointEvaluation.StrictImagesFlag();
        var perClass = PerClassText.ClassesFlag();
        var confusions = PerClassText.ConfusionsFlag();
        var errors = PerClassText.ErrorsFlag();
        var command = new Command("test", "Evaluate a checkpoint on a test folder (the reference's test.py). An unreadable image is skipped and named on stderr.")
            { testDir, ckpts, arch, batch, device, precision, workers, json, bins, noTemperature, plots, strictImages, perClass, confusions, errors };
        foreach (var option in datasets.Shared.Prepend(testList)) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var data = datasets.Read(parse).Required(testDir, testList);
            string checkpoint = Flags.ExistingFile(parse.GetValue(ckpts), "ckpts");
            Flags.Require(parse.GetValue(batch) >= 1, "batch_size", "must be at least 1");
            Flags.Require(parse.GetValue(workers) >= 0, "workers", "must be 0 (all cores) or more");
            int eceBins = parse.GetValue(bins);
            Flags.Require(eceBins >= 1, "ece_bins", "must be at least 1");
            string? jsonPath = Flags.OutputFile(parse.GetValue(json), "json");
            string? plotFolder = Flags.OutputFolder(parse.GetValue(plots), "plots");
            string? errorsPath = Flags.OutputFile(parse.GetValue(errors), "errors");
            int classRows = PerClassText.Rows(parse.GetValue(perClass), "per_class");
            int confusionRows = PerClassText.Rows(parse.GetValue(confusions), "confusions");
            var target = DeviceSelection.Parse(parse.GetValue(device)!);
            var arithmetic = EvalPrecision.Read(parse.GetValue(precision), target);
            var (info, r, outputs) = CheckpointEvaluation.Run(checkpoint, data, parse.GetValue(batch), parse.GetValue(workers), target, parse.GetValue(arch),
                parse.GetValue(strictImages), arithmetic);
            // These two lines are parsed by scripts and tests: keep them as they are, add new lines after them.
            Console.WriteLine($"Test Loss: {r.Loss:F4}, Test Acc@1: {r.Top1:F4}, time: {r.Seconds:F2}");
            Console.WriteLine($"Acc@5: {r.Top5:F4}, NLL: {r.Nll:F4}, ECE (15 bins): {r.Ece:F4}, images: {r.Count}");
            if (CheckpointEvaluation.SkippedSummary(r.Skipped) is { } skippedLine) Console.WriteLine(skippedLine);

            var before = CalibrationMetrics.Compute(outputs.Probabilities(), outputs.Labels, outputs.Classes, eceBins);
            Console.WriteLine(CalibrationText.Line($"Before temperature scaling ({eceBins} bins)", before));
            double? temperature = parse.GetValue(noTemperature) ? null : info.Temperature;
            CalibrationReport? after = null;
            if (temperature is { } t)
            {
                after = CalibrationMetrics.Compute(outputs.Probabilities(t), outputs.Labels, outputs.Classes, eceBins);
                Console.WriteLine(CalibrationText.Line($"After temperature scaling (T = {CalibrationText.Temperature(t)})", after));
            }
            else if (info.Temperature is { } ignored)
                Console.WriteLine($"Temperature {CalibrationText.Temperature(ignored)} of the checkpoint ignored (--no_temperature).");
            else
                Console.WriteLine("No temperature in the checkpoint (`smile calibrate` fits one on a validation folder).");

            // Confidences as `predict` gives them: temperature-scaled when a temperature is applied (the classes do not change).
            var perClassReport = PerClassReport.Compute(outputs.Probabilities(temperature ?? 1.0), outputs.Labels, info.Classes, outputs.Paths);
            foreach (var line in PerClassText.ClassTable(perClassReport, classRows)) Console.WriteLine(line);
            foreach (var line in PerClassText.ConfusionTable(perClassReport, confusionRows, ExampleRoot(data))) Console.WriteLine(line);
            if (errorsPath is not null)
            {
                Flags.Writing("errors", errorsPath, () => perClassReport.WriteErrorsCsv(errorsPath));
                Console.WriteLine($"wrote {errorsPath} ({perClassReport.Errors.Count} misclassified images)");
            }

            if (plotFolder is not null)
                Flags.Writing("plots", plotFolder, () =>
                {
                    foreach (var written in Smile.Plots.EvaluationPlots.Write(plotFolder, outputs, info.Classes, eceBins, temperature))
                        Console.WriteLine($"wrote {written}");
                });

            if (jsonPath is { } path)
            {
                var figures = new
                {
                    checkpoint, test_dir = (data as FolderSource)?.Root, test_list = (data as ImageListSource)?.ListFile, images = r.Count,
                    unreadable_skipped = r.Skipped.Count, unreadable_images = r.Skipped.Select(s => s.Path).ToArray(),
                    device = target.ToString(), precision = arithmetic.Name,
                    loss = r.Loss, top1 = r.Top1, top5 = r.Top5, nll = r.Nll, ece = r.Ece, seconds = r.Seconds,
                    ece_bins = eceBins,
                    calibration = CalibrationText.Json(before),
                    temperature,
                    temperature_scaled = after is null ? null : CalibrationText.Json(after),
                    mean_class_accuracy = perClassReport.MeanRecall,
                    misclassified = perClassReport.Errors.Count,
                    per_class = PerClassText.ClassesJson(perClassReport),
                    confusions = PerClassText.ConfusionsJson(perClassReport),
                };
                Flags.Writing("json", path, () => File.WriteAllText(path, JsonSerializer.Serialize(figures, new JsonSerializerOptions { WriteIndented = true })));
            }
            return 0;
        });
        return command;
    }

    /// <summary>The folder the confusion table's example paths are shown relative to: the test folder, or a list's data root.</summary>
    private static string ExampleRoot(DatasetSource data) => data switch
    {
        FolderSource f => f.Root,
        ImageListSource l => l.DataRoot ?? Path.GetDirectoryName(Path.GetFullPath(l.ListFile)) ?? ".",
        _ => ".",
    };
}

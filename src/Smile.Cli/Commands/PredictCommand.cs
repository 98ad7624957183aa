using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Smile.Data;
using Smile.Evaluation;
using Smile.Training;

namespace Smile.Cli.Commands;

/// <summary>`smile predict`: class names and probabilities per image, as CSV (default) or JSON; the probabilities
/// use the checkpoint's temperature when it has one (not the ranking: dividing by T keeps the order).</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var ckpts = Flags.Optional<string>("ckpts", "A Smile checkpoint (.safetensors).");
        var input = Flags.Optional<string>("input", "An image file, or a folder searched recursively for images.");
        var datasets = new DatasetFlags();
        var inputList = datasets.List("input_list", "A list file instead of --input (the formats of finetune's --train_list; labels are checked, not used): its images in the list's order.");
        var topk = Flags.Make("topk", "Classes per image.", 5);
        var output = Flags.Optional<string>("output", "Write here instead of stdout; .json for JSON, otherwise CSV.");
        var format = Flags.Make("format", "csv or json (when writing to stdout).", "csv");
        var batch = Flags.Make("batch_size", "Images per forward pass.", 16);
        var device = Flags.Make("device", "cpu, cuda, cuda:N or auto.", "cpu");
        var precision = EvalPrecision.Flag();
        var noTemperature = CalibrationText.NoTemperatureFlag();
        var strictImages = Flags.Make("strict_images",
            "Stop at the first unreadable image (exit 2, nothing written) instead of naming it on stderr and predicting the rest.", false);
        var command = new Command("predict", "Predict the classes of images with a checkpoint (probabilities temperature-scaled when `smile calibrate` stored a temperature). " +
            "An unreadable image is named on stderr and left out; the exit code is 0 when at least one image was predicted, 2 when none could be read.")
            { ckpts, input, topk, output, format, batch, device, precision, noTemperature, strictImages };
        foreach (var option in datasets.Shared.Prepend(inputList)) command.Options.Add(option);
        command.SetAction(parse =>
        {
            string checkpoint = Flags.ExistingFile(parse.GetValue(ckpts), "ckpts");
            string? path = parse.GetValue(input), listPath = parse.GetValue(inputList);
            var lists = datasets.Read(parse);
            Flags.Require(path is null || listPath is null, "input", "and --input_list are alternatives: give one");
            if (listPath is null)
            {
                Flags.Require(!string.IsNullOrWhiteSpace(path), "input", "is required");
                Flags.Require(File.Exists(path) || Directory.Exists(path), "input", $"no such file or folder: {Path.GetFullPath(path!)}");
            }
            var list = listPath is null ? null : lists.ListFile(listPath, "input_list", "--input");
            Flags.Require(parse.GetValue(topk) >= 1, "topk", "must be at least 1");
            Flags.Require(parse.GetValue(batch) >= 1, "batch_size", "must be at least 1");
            string? outPath = Flags.OutputFile(parse.GetValue(output), "output");
            bool asJson = outPath?.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ?? parse.GetValue(format) == "json";
            Flags.Require(outPath is not null || parse.GetValue(format) is "csv" or "json", "format", "must be csv or json");
            IReadOnlyList<string> files = list is not null ? list.Images() : [Path.GetFullPath(path!)];
            if (list is null && !File.Exists(path))
            {
                // The dataset reader's walk: a symlink to "." or to an ancestor neither repeats images nor loops forever.
                (files, var warnings) = ImageFolder.ImagesBelow(path!);
                foreach (var warning in warnings) Console.Error.WriteLine($"warning: {warning}");
            }
            Flags.Require(files.Count > 0, "input", $"no images in {Path.GetFullPath(path ?? ".")}"); // a list has at least one

            var target = DeviceSelection.Parse(parse.GetValue(device)!);
            var arithmetic = EvalPrecision.Read(parse.GetValue(precision), target);
            using var trained = TrainedModel.Load(checkpoint, target);
            double temperature = parse.GetValue(noTemperature) ? 1.0 : trained.Info.Temperature ?? 1.0;
            var skipped = new List<SkippedImage>();
            var predictions = Predictor.Predict(trained, files, parse.GetValue(topk), parse.GetValue(batch), target, temperature,
                parse.GetValue(strictImages) ? null : skipped.Add, arithmetic).ToList();
            if (predictions.Count == 0)
                throw new DataException(skipped.Count == 1 ? skipped[0].Reason : $"none of the {skipped.Count} images could be read (the first: {skipped[0].Reason})");
            foreach (var s in skipped) Console.Error.WriteLine(CheckpointEvaluation.SkippedLine(s));
            string text = asJson ? Json(predictions) : Csv(predictions);
            if (outPath is null) Console.Write(text);
            else Flags.Writing("output", outPath, () => File.WriteAllText(outPath, text));
            return 0;
        });
        return command;
    }

    private static string Csv(IEnumerable<Prediction> predictions)
    {
        var sb = new StringBuilder("path,rank,class,probability\n");
        foreach (var p in predictions)
            for (int i = 0; i < p.Top.Count; i++)
                sb.Append(Quote(p.Path)).Append(',').Append(i + 1).Append(',').Append(Quote(p.Top[i].Class)).Append(',')
                  .Append(p.Top[i].Probability.ToString("G6", CultureInfo.InvariantCulture)).Append('\n');
        return sb.ToString();
    }

    private static string Quote(string s) => s.IndexOfAny(new[] { ',', '"', '\n' }) < 0 ? s : "\"" + s.Replace("\"", "\"\"") + "\"";

    private static string Json(IEnumerable<Prediction> predictions) =>
        JsonSerializer.Serialize(predictions.Select(p => new { path = p.Path, top = p.Top.Select(t => new { @class = t.Class, probability = t.Probability }) }),
            new JsonSerializerOptions { WriteIndented = true }) + "\n";
}

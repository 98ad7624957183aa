using System.CommandLine;
using System.Globalization;
using Smile.Data;
using Smile.Evaluation;
using Smile.Training;
using Smile.WeakShot;

namespace Smile.Cli.Commands.SimTrans;

/// <summary>
/// `smile simtrans weights`: SimTrans's step 2. Every web image's weight from its class's SimNet similarity matrix
/// (mean 1 per class), written as the path,class,weight CSV that `smile finetune --sample_weights` reads, and a
/// contact sheet per class with the lowest- and highest-weighted images, so the user sees what was judged an
/// outlier before training on it.
/// </summary>
internal static class WeightsCommand
{
    public static Command Create()
    {
        var simnet = Flags.Optional<string>("simnet", "SimNet checkpoint (`smile simtrans train-simnet`).");
        var webDir = Flags.Optional<string>("web_dir", "The noisy web images: an ImageFolder, one subfolder per novel class.");
        var output = Flags.Make("out", "The weights CSV to write (paths relative to its folder).", "weights.csv");
        var weighting = Flags.Make("weighting", "avg (mean of an image's row of S; the authors' with --graph_reg) or savg (mean of its row and column; their first stage).", "savg");
        var sheets = Flags.Optional<string>("sheets", "Folder for the per-class contact sheets (default: {out without .csv}_sheets).");
        var sheetImages = Flags.Make("sheet_images", "Images per row of a contact sheet: the k lowest and the k highest weights.", 8);
        var batch = Flags.Make("batch_size", "Images per forward pass.", 64);
        var device = Flags.Make("device", "cpu, cuda, cuda:N or auto.", "cpu");
        var workers = Flags.Make("workers", "Data loading threads (0: the number of cores).", 0);
        var precision = EvalPrecision.Flag();
        var truth = Flags.Optional<string>("truth", "A CSV of known outliers (path,...,is_outlier; e.g. the outliers.csv of `smile prepare fashion-weak-shot`): report how well the weights separate them (ROC AUC).");
        var command = new Command("weights", "Weigh every web image by how similar the SimNet finds it to the rest of its class; write the CSV and contact sheets.")
            { simnet, webDir, output, weighting, sheets, sheetImages, batch, device, precision, workers, truth };
        command.SetAction(parse =>
        {
            string checkpoint = Flags.ExistingFile(parse.GetValue(simnet), "simnet");
            string web = Flags.ExistingDirectory(parse.GetValue(webDir), "web_dir");
            string mode = parse.GetValue(weighting)!.Trim().ToLowerInvariant();
            Flags.Require(mode is "avg" or "savg", "weighting", $"must be avg or savg, not '{mode}'");
            Flags.Require(parse.GetValue(sheetImages) >= 1, "sheet_images", "must be at least 1");
            Flags.Require(parse.GetValue(batch) >= 1, "batch_size", "must be at least 1");
            Flags.Require(parse.GetValue(workers) >= 0, "workers", "must be 0 (all cores) or more");
            string csv = Path.GetFullPath(Flags.NotBlank(parse.GetValue(output), "out"));
            Flags.Require(parse.GetValue(sheets) is null || !string.IsNullOrWhiteSpace(parse.GetValue(sheets)), "sheets", "is empty");
            Flags.Require(!Directory.Exists(csv), "out", $"{csv} is a folder; give the CSV file to write");
            string sheetDir = Path.GetFullPath(parse.GetValue(sheets) ?? Path.ChangeExtension(csv, null) + "_sheets");
            var target = DeviceSelection.Parse(parse.GetValue(device)!);
            var arithmetic = EvalPrecision.Read(parse.GetValue(precision), target);
            var known = parse.GetValue(truth) is { } t ? OutlierTruth.Read(Flags.ExistingFile(t, "truth")) : null;

            var folder = ImageFolder.ForTraining(web);
            var console = StatusConsole.ForStandardError();
            foreach (var warning in folder.Warnings) console.WriteLine($"warning: {warning}");
            var (net, info, extra) = SimNetCheckpoint.Load(checkpoint, target);
            foreach (var tensor in extra.Values) tensor.Dispose();
            IReadOnlyList<ClassWeights> classes;
            using (net)
            using (var display = new ProgressDisplay(console, evalLabel: "weighing"))
            {
                var progress = new SynchronousProgress<int>(n => display.OnEvalProgress(n, folder.Samples.Count));
                classes = WebImageWeights.Compute(net, info, folder, mode == "avg" ? SampleWeightMode.Avg : SampleWeightMode.Savg, target,
                    parse.GetValue(batch), parse.GetValue(workers), progress: progress, precision: arithmetic);
            }

            Directory.CreateDirectory(Path.GetDirectoryName(csv)!);
            string csvFolder = Path.GetDirectoryName(csv)!;
            WeightsCsv.Write(csv, classes.SelectMany(c => c.Images).Select(i => new SampleWeight(Path.GetRelativePath(csvFolder, i.Path), i.Class, i.Weight)));
            Directory.CreateDirectory(sheetDir);
            var c = CultureInfo.InvariantCulture;
            Console.WriteLine($"{"class",-24} {"images",6} {"mean S",7} {"min",7} {"median",7} {"max",7} {"below 0.5",9}");
            foreach (var cls in classes)
            {
                var sorted = cls.Images.Select(i => i.Weight).Order().ToArray();
                Console.WriteLine(string.Create(c, $"{cls.Class,-24} {sorted.Length,6} {cls.MeanSimilarity,7:F3} {sorted[0],7:F3} {sorted[sorted.Length / 2],7:F3} {sorted[^1],7:F3} {sorted.Count(w => w < 0.5),9}"));
                ContactSheet.Write(Path.Combine(sheetDir, ContactSheet.FileName(cls.Class)), cls.Class,
                    cls.Images.Select(i => (i.Path, i.Weight)).ToArray(), parse.GetValue(sheetImages));
            }
            Console.WriteLine($"weights: {csv} ({classes.Sum(x => x.Images.Count)} images, {classes.Count} classes, {mode}; SimNet {checkpoint})");
            Console.WriteLine($"contact sheets: {sheetDir}");
            if (known is not null) ReportSeparation(classes, known, parse.GetValue(truth)!);
            return 0;
        });
        return command;
    }

    /// <summary>How well the weights single out the known outliers: ROC AUC of -weight against "is an outlier" (1:
    /// every outlier weighs less than every clean image; 0.5: no better than chance), overall and per class, and
    /// the mean weight of each group. Every weighted image must be in the list: a partial list would hide outliers.</summary>
    private static void ReportSeparation(IReadOnlyList<ClassWeights> classes, IReadOnlyDictionary<string, bool> known, string file)
    {
        var missing = classes.SelectMany(c => c.Images).Where(i => !known.ContainsKey(Path.GetFullPath(i.Path))).Select(i => i.Path).ToList();
        if (missing.Count > 0)
            throw new DataException($"{file}: {missing.Count} weighted image(s) are not listed, e.g. {missing[0]}");
        // Each image's weight beside its flag, looked up once.
        var byClass = classes.Select(c => (c.Class, Images: c.Images.Select(i => (i.Weight, Outlier: known[Path.GetFullPath(i.Path)])).ToArray())).ToList();
        var all = byClass.SelectMany(c => c.Images).ToArray();
        static string Auc(IReadOnlyList<(double Weight, bool Outlier)> images) =>
            images.Select(i => i.Outlier).Distinct().Count() < 2 ? "n/a (one group only)"
                : RocAuc.Compute(images.Select(i => -i.Weight).ToArray(), images.Select(i => i.Outlier).ToArray()).ToString("F3", CultureInfo.InvariantCulture);
        double MeanOf(bool outlier) => all.Where(i => i.Outlier == outlier).Select(i => i.Weight).DefaultIfEmpty(double.NaN).Average();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"outlier separation (ROC AUC of -weight vs is_outlier, {file}): {Auc(all)}; mean weight clean {MeanOf(false):F3}, outliers {MeanOf(true):F3}"));
        foreach (var (name, images) in byClass)
            Console.WriteLine($"  {name}: AUC {Auc(images)}");
    }
}

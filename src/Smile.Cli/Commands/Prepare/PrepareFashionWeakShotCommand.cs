using System.CommandLine;
using System.Globalization;
using Smile.Data.Prepare;

namespace Smile.Cli.Commands.Prepare;

/// <summary>`smile prepare fashion-weak-shot`: Fashion-MNIST to the weak-shot layout, with a known fraction of
/// planted outliers in the web folders and outliers.csv telling them apart.</summary>
internal static class PrepareFashionWeakShotCommand
{
    public static Command Create()
    {
        var source = Flags.Make("src", "Folder with the idx files (gzipped or not).", FashionMnist.DebianFolder);
        var output = PrepareCommand.Output("data/fashion-weak-shot");
        var baseClasses = Flags.Make("base", "Comma-separated base class labels (0..9); the other classes are novel.", "0,1,2,3,4");
        var basePerClass = Flags.Optional<int?>("base_per_class",
            "Base training images per class, drawn with --seed; then base/train is the same for every --web_per_class and --outlier_fraction " +
            "(default: every training image not planted as an outlier).");
        var webPerClass = Flags.Make("web_per_class", "Clean web images per novel class, from the training split.", 200);
        var fraction = Flags.Make("outlier_fraction",
            "Fraction f of each web folder that are planted outliers (images of the other classes): round(N*f/(1-f)) beside N clean ones.", 0.2);
        var seed = Flags.Make("seed", "Seed of every draw.", 0);
        var command = new Command("fashion-weak-shot",
            "Fashion-MNIST as a weak-shot experiment: base/train, base/test, web/<novel class> with planted outliers, novel_test/, outliers.csv.")
            { source, output, baseClasses, basePerClass, webPerClass, fraction, seed };
        command.SetAction(parse =>
        {
            string folder = Flags.ExistingDirectory(parse.GetValue(source), "src");
            var labels = PrepareFashionMnistCommand.ParseClasses(parse.GetValue(baseClasses)!, "base");
            Flags.Require(labels.Length <= 8, "base", "must leave at least two novel classes");
            int? perBase = parse.GetValue(basePerClass);
            int perWeb = parse.GetValue(webPerClass);
            double f = parse.GetValue(fraction);
            Flags.Require(perBase is null or >= 1, "base_per_class", "must be at least 1");
            Flags.Require(perWeb >= 1, "web_per_class", "must be at least 1");
            Flags.Require(f is >= 0 and < 1, "outlier_fraction", $"must be at least 0 and below 1 (got {f.ToString(CultureInfo.InvariantCulture)})");

            var preparation = FashionWeakShot.Plan(folder, new FashionWeakShot.Options(labels, perBase, perWeb, f, parse.GetValue(seed)));
            string root = Path.GetFullPath(parse.GetValue(output)!);
            int status = PrepareCommand.Write(preparation.Plan, root);
            FashionWeakShot.WriteOutliers(preparation, root);
            int outliers = preparation.Web.Count(w => w.IsOutlier), perFolder = FashionWeakShot.OutliersPerClass(perWeb, f);
            Console.WriteLine($"planted {outliers} outliers in {preparation.NovelClasses.Count} web folders, {perFolder} of {perWeb + perFolder} each " +
                $"({(100.0 * perFolder / (perWeb + perFolder)).ToString("F1", CultureInfo.InvariantCulture)}%): {Path.Combine(root, FashionWeakShot.OutliersFile)}");
            return status;
        });
        return command;
    }
}

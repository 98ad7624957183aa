using System.CommandLine;
using Smile.Data.Prepare;

namespace Smile.Cli.Commands.Prepare;

/// <summary>`smile prepare fashion-mnist`: the idx files to PNG ImageFolders, with a class subset and a seeded sample.</summary>
internal static class PrepareFashionMnistCommand
{
    public static Command Create()
    {
        var source = Flags.Make("src", "Folder with the idx files (gzipped or not).", FashionMnist.DebianFolder);
        var output = PrepareCommand.Output("data/fashion-mnist");
        var classes = Flags.Make("classes", "Comma-separated class labels to keep (0..9).", "0,1,2,3,4,5,6,7,8,9");
        var perClass = Flags.Optional<int?>("per_class", "Training images per class, drawn with --seed (default: all).");
        var testPerClass = Flags.Optional<int?>("test_per_class", "Test images per class, drawn with --seed (default: all).");
        var seed = Flags.Make("seed", "Seed of the per-class draw.", 0);
        var command = new Command("fashion-mnist", "Fashion-MNIST idx files to 28x28 grayscale PNG ImageFolders.") { source, output, classes, perClass, testPerClass, seed };
        command.SetAction(parse =>
        {
            string folder = Flags.ExistingDirectory(parse.GetValue(source), "src");
            var labels = ParseClasses(parse.GetValue(classes)!, "classes");
            int? train = parse.GetValue(perClass), test = parse.GetValue(testPerClass);
            Flags.Require(train is null or >= 1, "per_class", "must be at least 1");
            Flags.Require(test is null or >= 1, "test_per_class", "must be at least 1");
            var plan = FashionMnist.Plan(folder, new FashionMnist.Options(labels, train, test, parse.GetValue(seed)));
            return PrepareCommand.Write(plan, parse.GetValue(output)!);
        });
        return command;
    }

    /// <summary>"0,3,5": distinct labels 0..9, at least two; a wrong one is named with <paramref name="flag"/>.</summary>
    internal static int[] ParseClasses(string text, string flag)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var labels = new List<int>();
        foreach (var part in parts)
        {
            Flags.Require(int.TryParse(part, out int label) && label is >= 0 and <= 9, flag, $"'{part}' is not a class label 0..9");
            Flags.Require(!labels.Contains(label), flag, $"class {label} is listed twice");
            labels.Add(label);
        }
        Flags.Require(labels.Count >= 2, flag, "needs at least two classes");
        return labels.ToArray();
    }
}

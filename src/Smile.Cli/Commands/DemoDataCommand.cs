using System.CommandLine;
using Smile.Data;

namespace Smile.Cli.Commands;

/// <summary>`smile demo-data`: the built-in synthetic ImageFolders (train/ and test/) the demo trains on.</summary>
internal static class DemoDataCommand
{
    private const int MaxClasses = 100;
    private const int MaxPerClass = 10_000;

    public static Command Create()
    {
        var output = Flags.Make("out", "Folder to write train/ and test/ into.", "data/demo");
        var classes = Flags.Make("classes", "Number of classes.", 4);
        var train = Flags.Make("train_per_class", "Training images per class.", 24);
        var test = Flags.Make("test_per_class", "Test images per class.", 8);
        var seed = Flags.Make("seed", "Random seed.", 0);
        var command = new Command("demo-data", "Write a small synthetic, learnable ImageFolder data set (train/ and test/).") { output, classes, train, test, seed };
        command.SetAction(parse =>
        {
            // A demo set is small: the class names have two digits, and the whole job list is built in memory.
            Flags.Require(parse.GetValue(classes) is >= 2 and <= MaxClasses, "classes", $"must be 2 to {MaxClasses}");
            Flags.Require(parse.GetValue(train) is >= 1 and <= MaxPerClass, "train_per_class", $"must be 1 to {MaxPerClass}");
            Flags.Require(parse.GetValue(test) is >= 1 and <= MaxPerClass, "test_per_class", $"must be 1 to {MaxPerClass}");
            string root = Flags.OutputFolder(parse.GetValue(output), "out")!;
            Flags.Writing("out", root, () =>
            {
                SyntheticPhotos.WriteImageFolder(Path.Combine(root, "train"), parse.GetValue(classes), parse.GetValue(train), parse.GetValue(seed));
                SyntheticPhotos.WriteImageFolder(Path.Combine(root, "test"), parse.GetValue(classes), parse.GetValue(test), parse.GetValue(seed) + 1);
            });
            Console.WriteLine($"wrote {root}/train and {root}/test: {parse.GetValue(classes)} classes, {parse.GetValue(train)} + {parse.GetValue(test)} images per class");
            return 0;
        });
        return command;
    }
}

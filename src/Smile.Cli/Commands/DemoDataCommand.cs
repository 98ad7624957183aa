using System.CommandLine;
using Smile.Data;

namespace Smile.Cli.Commands;

/// <summary>`smile demo-data`: the built-in synthetic ImageFolders (train/ and test/) the demo trains on.</summary>
internal static class DemoDataCommand
{
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
            Flags.Require(parse.GetValue(classes) >= 2, "classes", "must be at least 2");
            Flags.Require(parse.GetValue(train) >= 1, "train_per_class", "must be at least 1");
            Flags.Require(parse.GetValue(test) >= 1, "test_per_class", "must be at least 1");
            string root = Path.GetFullPath(parse.GetValue(output)!);
            SyntheticPhotos.WriteImageFolder(Path.Combine(root, "train"), parse.GetValue(classes), parse.GetValue(train), parse.GetValue(seed));
            SyntheticPhotos.WriteImageFolder(Path.Combine(root, "test"), parse.GetValue(classes), parse.GetValue(test), parse.GetValue(seed) + 1);
            Console.WriteLine($"wrote {root}/train and {root}/test: {parse.GetValue(classes)} classes, {parse.GetValue(train)} + {parse.GetValue(test)} images per class");
            return 0;
        });
        return command;
    }
}

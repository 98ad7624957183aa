using System.CommandLine;
using System.Globalization;
using Smile.Data;

namespace Smile.Cli.Commands;

/// <summary>`smile split DIR|LIST --out FOLDER`: a stratified, seeded train/val split as list files (train.txt, val.txt,
/// classes.txt), optionally a per-class or fractional subset of the training part (<see cref="DatasetSplit"/>); the lists
/// read back with finetune's --train_list, --eval_list and --classes.</summary>
internal static class SplitCommand
{
    public const string TrainFile = "train.txt", ValFile = "val.txt", ClassesFile = "classes.txt";

    public static Command Create()
    {
        var source = new Argument<string>("source") { Description = "An ImageFolder root, or a list file (the formats of finetune's --train_list)." };
        var output = Flags.Optional<string>("out", $"Folder for {TrainFile}, {ValFile} (with --val_fraction) and {ClassesFile}; paths in the lists are relative to it.");
        var valFraction = Flags.Make("val_fraction", "Hold out this fraction of every class as the validation list (0: none); a run's --val_split with the same seed holds out the same images.", 0.0);
        var seed = Flags.Make("seed", "Random seed of the split and the subset.", 2022);
        var perClass = Flags.Optional<int?>("per_class", "Keep this many training images per class (all of a class that has fewer).");
        var fraction = Flags.Optional<double?>("fraction", "Keep this fraction of every class's training images (at least one); with one seed, smaller subsets are part of larger ones.");
        var datasets = new DatasetFlags();
        var command = new Command("split", "Write a stratified, seeded train/val split of a folder or list as list files, optionally a subset of the training part.")
            { source, output, valFraction, seed, perClass, fraction };
        foreach (var option in datasets.Shared) command.Options.Add(option);
        command.SetAction(parse =>
        {
            string path = parse.GetValue(source)!;
            string outFolder = Path.GetFullPath(Flags.NotBlank(parse.GetValue(output), "out"));
            Flags.Require(!File.Exists(outFolder), "out", $"{outFolder} is a file, not a folder");
            double val = parse.GetValue(valFraction);
            Flags.Require(val is >= 0 and < 1, "val_fraction", "must be in [0, 1) (0: no validation list)");
            Flags.Require(parse.GetValue(perClass) is null or >= 1, "per_class", "must be at least 1");
            Flags.Require(parse.GetValue(fraction) is null or (> 0 and <= 1), "fraction", "must be in (0, 1]");
            Flags.Require(parse.GetValue(perClass) is null || parse.GetValue(fraction) is null, "per_class", "and --fraction are alternatives: give one");
            bool isList = File.Exists(path);
            var lists = datasets.Read(parse, readsList: isList);
            if (!isList && !Directory.Exists(path)) throw new UsageException($"{Path.GetFullPath(path)}: no such folder or list file");

            var data = isList ? new ImageListSource(Path.GetFullPath(path), lists.DataRoot, lists.ClassesFile).ForTraining() : ImageFolder.ForTraining(path);
            foreach (var warning in data.Warnings) Console.Error.WriteLine($"warning: {warning}");
            var subset = parse.GetValue(perClass) is null && parse.GetValue(fraction) is null ? null : new SubsetSize(parse.GetValue(perClass), parse.GetValue(fraction));
            var split = DatasetSplit.Split(data, val, parse.GetValue(seed), subset);

            Flags.OutputFolder(outFolder, "out");
            string trainPath = Path.Combine(outFolder, TrainFile), valPath = Path.Combine(outFolder, ValFile), classesPath = Path.Combine(outFolder, ClassesFile);
            Flags.Writing("out", outFolder, () =>
            {
                ImageListWriter.WriteClasses(classesPath, data.Classes);
                if (split.Validation is { } v) ImageListWriter.WriteList(valPath, v);
                ImageListWriter.WriteList(trainPath, split.Train);
            });

            var c = CultureInfo.InvariantCulture;
            Console.WriteLine($"Read {data.Samples.Count} images of {data.Classes.Count} classes from {data.Root}");
            if (split.Validation is { } held)
                Console.WriteLine(string.Create(c, $"Validation: {held.Samples.Count} images held out ({val:G4} of every class, seed {parse.GetValue(seed)}): {valPath}"));
            string kept = subset is null ? "" : parse.GetValue(perClass) is int n
                ? $" ({split.Train.Samples.Count} of {split.TrainingPartCount}, at most {n} per class)"
                : string.Create(c, $" ({split.Train.Samples.Count} of {split.TrainingPartCount}, {parse.GetValue(fraction):G4} of every class)");
            Console.WriteLine($"Training: {split.Train.Samples.Count} images{kept}: {trainPath}");
            Console.WriteLine($"Classes: {classesPath} (line 1 names label 0)");
            foreach (var note in split.Notes) Console.WriteLine($"note: {note}");
            if (split.Validation is null && File.Exists(valPath))
                Console.WriteLine($"note: {valPath} is left from an earlier split (this one has no --val_fraction)");
            string eval = split.Validation is null ? "" : $" --eval_list {valPath}";
            Console.WriteLine($"Read back with: --train_list {trainPath}{eval} --classes {classesPath}");
            return 0;
        });
        return command;
    }
}

using System.CommandLine;
using Smile.Data.Prepare;

namespace Smile.Cli.Commands.Prepare;

/// <summary>`smile prepare weak-shot`: a prepared data set, a base/novel split and web folders to the weak-shot layout,
/// web copies of test images removed by perceptual hash.</summary>
internal static class PrepareWeakShotCommand
{
    public static Command Create()
    {
        var source = Flags.Optional<string>("src", "A prepared data set: train/<class>/ and test/<class>/ ImageFolders (what `smile prepare cub` writes).");
        var baseClasses = Flags.Optional<string>("base_classes", "Text file of the base classes' folder names, one a line ('#' comments and blank lines ignored).");
        var novelClasses = Flags.Optional<string>("novel_classes", "Text file of the novel classes' folder names, as --base_classes.");
        var webDir = Flags.Optional<string>("web_dir", "Folder with one subfolder of web images per novel class, named as the class.");
        var output = PrepareCommand.Output("data/weak-shot");
        var distance = Flags.Make("hash_distance", "A web image within this many bits (of 64) of a test image's perceptual hash is dropped as its copy.",
            TestDuplicates.DefaultMaxDistance);
        var command = new Command("weak-shot",
            "Weak-shot layout: base/train, base/test (base classes), web/<novel class> (web images less copies of test images), novel_test/<novel class>.")
            { source, baseClasses, novelClasses, webDir, output, distance };
        command.SetAction(parse =>
        {
            int maxDistance = parse.GetValue(distance);
            Flags.Require(maxDistance is >= 0 and <= 64, "hash_distance", $"must be 0..64 bits (got {maxDistance})");
            var options = new WeakShotLayout.Options(
                Flags.ExistingDirectory(parse.GetValue(source), "src"),
                Flags.ExistingFile(parse.GetValue(baseClasses), "base_classes"),
                Flags.ExistingFile(parse.GetValue(novelClasses), "novel_classes"),
                Flags.ExistingDirectory(parse.GetValue(webDir), "web_dir"),
                maxDistance);
            var counter = PrepareCommand.LiveCounter("hashed ");
            var preparation = WeakShotLayout.Plan(options, counter);
            if (counter != null) Console.Error.WriteLine();
            foreach (var warning in preparation.Warnings) Console.Error.WriteLine($"warning: {warning}");

            string root = Path.GetFullPath(parse.GetValue(output)!);
            int status = PrepareCommand.Write(preparation.Plan, root);
            WeakShotLayout.WriteReports(preparation, root);
            Report(preparation, root, maxDistance);
            return status;
        });
        return command;
    }

    private static void Report(WeakShotLayout.Preparation preparation, string root, int maxDistance)
    {
        foreach (var name in preparation.NovelClasses)
        {
            int all = preparation.WebImages[name];
            int dropped = preparation.Dropped.Count(d => d.ClassName == name), unreadable = preparation.Unreadable.Count(u => u.ClassName == name);
            Console.WriteLine($"{Path.Combine(root, "web", name)}: kept {all - dropped - unreadable} of {all} web images " +
                $"({dropped} copies of test images dropped, {unreadable} unreadable skipped)");
        }
        Console.WriteLine($"dropped {preparation.Dropped.Count} of {preparation.WebImages.Values.Sum()} web images as copies of test images " +
            $"(hash distance <= {maxDistance}): {Path.Combine(root, WeakShotLayout.DroppedFile)}");
        if (preparation.Unreadable.Count > 0)
            Console.Error.WriteLine($"warning: skipped {preparation.Unreadable.Count} web images that cannot be decoded " +
                $"(e.g. {preparation.Unreadable[0].Reason}): {Path.Combine(root, WeakShotLayout.UnreadableFile)}");
        if (preparation.UnusedClasses.Count > 0)
            Console.WriteLine($"{preparation.UnusedClasses.Count} classes of --src are in neither list and were left out (e.g. {preparation.UnusedClasses[0]})");
    }
}

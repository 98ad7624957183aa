using System.CommandLine;
using Smile.Data;

namespace Smile.Cli.Commands;

/// <summary>`smile check-data DIR|LIST`: decodes every image of a folder or a list file; exit code 1 when any file is unreadable (an image over
/// --max_image_pixels included); symlink warnings are listed but do not fail the check.</summary>
internal static class CheckDataCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("dir") { Description = "An ImageFolder root (one subfolder per class), or a list file (the formats of finetune's --train_list)." };
        var workers = new Option<int>("--workers") { Description = "Decoding threads (default: the number of cores).", DefaultValueFactory = _ => 0 };
        var datasets = new DatasetFlags();
        var command = new Command("check-data", "Decode every image of a dataset folder or list; report unreadable files, class counts and image sizes.") { dir, workers };
        foreach (var option in datasets.Shared) command.Options.Add(option);
        command.SetAction(parse =>
        {
            if (parse.GetValue(workers) < 0) throw new UsageException("--workers: must be 0 (all cores) or more");
            string source = parse.GetValue(dir)!;
            bool isList = File.Exists(source);
            var lists = datasets.Read(parse, readsList: isList);
            var data = isList ? new ImageListSource(Path.GetFullPath(source), lists.DataRoot, lists.ClassesFile).ForTraining() : ImageFolder.ForTraining(source);
            var report = DataCheck.Run(data, parse.GetValue(workers));
            Console.WriteLine($"{report.Root}: {report.ClassCounts.Count} classes, {report.Total} images");
            foreach (var (name, count) in report.ClassCounts)
                Console.WriteLine($"  {count,7}  {name}");
            if (report.Sizes.Count > 0)
            {
                Console.WriteLine($"width  min {report.Percentile(s => s.Width, 0)}, median {report.Percentile(s => s.Width, 50)}, max {report.Percentile(s => s.Width, 100)}");
                Console.WriteLine($"height min {report.Percentile(s => s.Height, 0)}, median {report.Percentile(s => s.Height, 50)}, max {report.Percentile(s => s.Height, 100)}");
            }
            // What training would warn about and skip (broken or cyclic symlinks): worth knowing, not a failure.
            foreach (var warning in report.Warnings)
                Console.WriteLine($"warning: {CliErrors.WithFlags(warning)}");
            foreach (var (path, reason) in report.Unreadable)
                Console.WriteLine($"unreadable: {CliErrors.WithFlags(reason)}");
            Console.WriteLine(report.Ok ? "all images readable" : $"{report.Unreadable.Count} unreadable image(s)");
            return report.Ok ? 0 : 1;
        });
        return command;
    }
}

using System.CommandLine;
using Smile.Data;

namespace Smile.Cli.Commands;

/// <summary>`smile check-data DIR`: decodes every image; exit code 1 when any file is unreadable (an image over
/// --max_image_pixels included); symlink warnings are listed but do not fail the check.</summary>
internal static class CheckDataCommand
{
    public static Command Create()
    {
        var dir = new Argument<DirectoryInfo>("dir") { Description = "An ImageFolder root (one subfolder per class)." };
        var workers = new Option<int>("--workers") { Description = "Decoding threads (default: the number of cores).", DefaultValueFactory = _ => 0 };
        var command = new Command("check-data", "Decode every image of a dataset folder; report unreadable files, class counts and image sizes.") { dir, workers };
        command.SetAction(parse =>
        {
            if (parse.GetValue(workers) < 0) throw new UsageException("--workers: must be 0 (all cores) or more");
            var report = DataCheck.Run(parse.GetValue(dir)!.FullName, parse.GetValue(workers));
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
                Console.WriteLine($"warning: {warning}");
            foreach (var (path, reason) in report.Unreadable)
                Console.WriteLine($"unreadable: {reason}");
            Console.WriteLine(report.Ok ? "all images readable" : $"{report.Unreadable.Count} unreadable image(s)");
            return report.Ok ? 0 : 1;
        });
        return command;
    }
}

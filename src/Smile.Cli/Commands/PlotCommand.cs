using System.CommandLine;
using Smile.Plots;
using Smile.Training;

namespace Smile.Cli.Commands;

/// <summary>`smile plot --log_dir DIR`: the TensorBoard scalars of finetune runs as PNG training curves, one picture
/// per folder of event files (a finetune --log_dir holds one folder per regularizer), without TensorBoard.</summary>
internal static class PlotCommand
{
    public static Command Create()
    {
        var logDir = Flags.Optional<string>("log_dir", "A finetune --log_dir (or one regularizer's folder in it) holding events.out.tfevents.* files.");
        var output = Flags.Optional<string>("out", "FILE.png for a single run, or a folder for one <name>_curves.png per run (default: the --log_dir itself).");
        var command = new Command("plot", "Training curves (loss terms, accuracy, val_loss, learning rate) from TensorBoard event files, as PNG.") { logDir, output };
        command.SetAction(parse =>
        {
            string dir = Flags.ExistingDirectory(parse.GetValue(logDir), "log_dir");
            var runs = TensorBoardScalars.RunFolders(dir);
            if (runs.Count == 0) throw new UsageException($"--log_dir: no {TensorBoardScalars.FilePattern} files under {dir}: finetune writes them to its --log_dir");
            string? outFlag = parse.GetValue(output);
            Flags.Require(outFlag is null || !string.IsNullOrWhiteSpace(outFlag), "out", "is empty: give a .png file or a folder");
            bool toFile = outFlag is not null && outFlag.EndsWith(".png", StringComparison.OrdinalIgnoreCase) && !Directory.Exists(outFlag);
            Flags.Require(!toFile || runs.Count == 1, "out", $"one file for {runs.Count} runs ({string.Join(", ", runs.Select(r => RunName(dir, r)))}): give a folder");

            int written = 0;
            foreach (var run in runs)
            {
                string name = RunName(dir, run);
                var scalars = TensorBoardScalars.ReadFolder(run);
                if (scalars.Count == 0)
                {
                    Console.Error.WriteLine($"{run}: no scalars yet, skipped");
                    continue;
                }
                string path = toFile ? Path.GetFullPath(outFlag!) : Path.Combine(Path.GetFullPath(outFlag ?? dir), $"{name}_curves.png");
                var series = scalars.ToDictionary(s => s.Key, s => s.Value.Select(p => (p.Step, (double)p.Value)).ToArray());
                Flags.Writing("out", path, () => Charts.TrainingCurves(path, series, Title(name, scalars)));
                Console.WriteLine(path);
                written++;
            }
            if (written == 0) throw new UsageException($"--log_dir: the event files under {dir} hold no scalars yet");
            return 0;
        });
        return command;
    }

    /// <summary>The run folder relative to --log_dir (the regularizer, for a finetune --log_dir) as a file name;
    /// --log_dir's own name when the event files are directly in it.</summary>
    internal static string RunName(string logDir, string run)
    {
        string relative = Path.GetRelativePath(logDir, run);
        if (relative == ".") relative = Path.GetFileName(Path.TrimEndingDirectorySeparator(logDir));
        return string.IsNullOrEmpty(relative) ? "run" : relative.Replace(Path.DirectorySeparatorChar, '_');
    }

    private static string Title(string name, SortedDictionary<string, ScalarPoint[]> scalars)
    {
        long last = scalars.Values.Max(points => points[^1].Step);
        string title = $"{name}: {last + 1} iterations";
        if (scalars.TryGetValue("val_acc", out var val) && val.Length > 0)
        {
            var best = val.MaxBy(p => p.Value);
            title += $", val_acc last {val[^1].Value:F4}, best {best.Value:F4} (iteration {best.Step})";
        }
        return title;
    }
}

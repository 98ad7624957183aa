using System.CommandLine;
using Smile.Data.Prepare;

namespace Smile.Cli.Commands.Prepare;

/// <summary>`smile prepare DATASET --src ... --out ...`: an official dataset layout to the train/ + test/ ImageFolders the trainer reads.</summary>
internal static class PrepareCommand
{
    public static Command Create()
    {
        var command = new Command("prepare", "Turn an official dataset layout into the ImageFolders the trainer reads: train/ and test/, or a weak-shot layout (hard links where possible, idempotent).");
        command.Subcommands.Add(PrepareFashionMnistCommand.Create());
        command.Subcommands.Add(PrepareCubCommand.Create());
        command.Subcommands.Add(PrepareCarsCommand.Create());
        command.Subcommands.Add(PrepareAircraftCommand.Create());
        command.Subcommands.Add(PrepareWeakShotCommand.Create());
        command.Subcommands.Add(PrepareFashionWeakShotCommand.Create());
        return command;
    }

    public static Option<string> Output(string defaultFolder) => Flags.Make("out", "Folder to write the ImageFolders into.", defaultFolder);

    /// <summary>A live counter ("\r  hashed 500/2000 images") on a terminal; null in a log (redirected stderr), where
    /// the summary lines are enough. The caller ends the line once done.</summary>
    public static Action<int, int>? LiveCounter(string verb) =>
        Console.IsErrorRedirected ? null : (done, total) => Console.Error.Write($"\r  {verb}{done}/{total} images");

    /// <summary>Writes the plan and prints what it holds: classes and images per split, and how they got there.</summary>
    public static int Write(ImageFolderPlan plan, string output)
    {
        string root = Path.GetFullPath(output);
        var counter = LiveCounter("");
        var result = ImageFolderWriter.Write(plan, root, counter);
        if (counter != null) Console.Error.WriteLine();
        foreach (var (split, classes, images) in result.Counts)
            Console.WriteLine($"{Path.Combine(root, split)}: {classes} classes, {images} images");
        Console.WriteLine($"linked {result.Linked}, copied {result.Copied}, written {result.Generated}, already in place {result.Unchanged}");
        return 0;
    }
}

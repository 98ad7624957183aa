using System.CommandLine;
using Smile.Data.Prepare;

namespace Smile.Cli.Commands.Prepare;

/// <summary>`smile prepare DATASET --src ... --out ...`: an official dataset layout to the train/ + test/ ImageFolders the trainer reads.</summary>
internal static class PrepareCommand
{
    public static Command Create()
    {
        var command = new Command("prepare", "Turn an official dataset layout into train/ and test/ ImageFolders (hard links where possible, idempotent).");
        command.Subcommands.Add(PrepareFashionMnistCommand.Create());
        command.Subcommands.Add(PrepareCubCommand.Create());
        command.Subcommands.Add(PrepareCarsCommand.Create());
        command.Subcommands.Add(PrepareAircraftCommand.Create());
        return command;
    }

    public static Option<string> Output(string defaultFolder) => Flags.Make("out", "Folder to write the ImageFolders into.", defaultFolder);

    /// <summary>Writes the plan and prints what it holds: classes and images per split, and how they got there.</summary>
    public static int Write(ImageFolderPlan plan, string output)
    {
        string root = Path.GetFullPath(output);
        // A live counter on a terminal; in a log (redirected stderr) the summary lines below are enough.
        bool live = !Console.IsErrorRedirected;
        var result = ImageFolderWriter.Write(plan, root, live ? (done, total) => Console.Error.Write($"\r  {done}/{total} images") : null);
        if (live) Console.Error.WriteLine();
        foreach (var (split, classes, images) in result.Counts)
            Console.WriteLine($"{Path.Combine(root, split)}: {classes} classes, {images} images");
        Console.WriteLine($"linked {result.Linked}, copied {result.Copied}, written {result.Generated}, already in place {result.Unchanged}");
        return 0;
    }
}

using System.CommandLine;
using Smile.Data.Prepare;

namespace Smile.Cli.Commands.Prepare;

/// <summary>`smile prepare cub`: the CUB_200_2011 folder to the official train/test split, hard-linked.</summary>
internal static class PrepareCubCommand
{
    public static Command Create()
    {
        var source = Flags.Make("src", "The CUB_200_2011 folder (images.txt, image_class_labels.txt, train_test_split.txt, classes.txt, images/).", "CUB_200_2011");
        var output = PrepareCommand.Output("data/cub");
        var command = new Command("cub", "Caltech-UCSD Birds-200-2011: the official train/test split as ImageFolders (200 classes).") { source, output };
        command.SetAction(parse =>
        {
            string folder = Flags.ExistingDirectory(parse.GetValue(source), "src");
            return PrepareCommand.Write(Cub.Plan(folder), parse.GetValue(output)!);
        });
        return command;
    }
}

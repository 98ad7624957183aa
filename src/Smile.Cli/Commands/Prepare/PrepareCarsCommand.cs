using System.CommandLine;
using Smile.Data.Prepare;

namespace Smile.Cli.Commands.Prepare;

/// <summary>`smile prepare cars`: Stanford Cars' devkit annotations and image folders to train/ + test/ ImageFolders.</summary>
internal static class PrepareCarsCommand
{
    public static Command Create()
    {
        var source = Flags.Optional<string>("src",
            $"Stanford Cars folder: cars_train/, cars_test/, devkit/ ({StanfordCars.MetaFile}, {StanfordCars.TrainAnnotationsFile}) " +
            $"and {StanfordCars.TestAnnotationsFile} (there or in devkit/).");
        var output = PrepareCommand.Output("data/cars");
        var command = new Command("cars", "Stanford Cars (196 classes) to ImageFolders, one folder per class named '001_AM General Hummer SUV 2000'.") { source, output };
        command.SetAction(parse =>
        {
            string folder = Flags.ExistingDirectory(parse.GetValue(source), "src");
            return PrepareCommand.Write(StanfordCars.Plan(folder), parse.GetValue(output)!);
        });
        return command;
    }
}

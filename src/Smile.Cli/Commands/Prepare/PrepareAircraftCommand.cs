using System.CommandLine;
using Smile.Data.Prepare;

namespace Smile.Cli.Commands.Prepare;

/// <summary>`smile prepare aircraft`: fgvc-aircraft-2013b to trainval/test ImageFolders at one label level, optionally without the banner.</summary>
internal static class PrepareAircraftCommand
{
    public static Command Create()
    {
        var source = Flags.Make("src", "The fgvc-aircraft-2013b folder (with data/images and data/images_<level>_*.txt).", "fgvc-aircraft-2013b");
        var output = PrepareCommand.Output("data/aircraft");
        var level = Flags.Make("level", "Label level: variant (100 classes), family (70) or manufacturer (30).", "variant");
        var cropBanner = Flags.Make("crop_banner", $"Remove the {FgvcAircraft.BannerRows}-pixel copyright banner at the bottom (re-encodes the images as JPEG).", false);
        var command = new Command("aircraft", "FGVC-Aircraft: the official trainval (as train/) and test split as ImageFolders.") { source, output, level, cropBanner };
        command.SetAction(parse =>
        {
            string folder = Flags.ExistingDirectory(parse.GetValue(source), "src");
            string text = parse.GetValue(level)!;
            var parsed = FgvcAircraft.ParseLevel(text);
            Flags.Require(parsed is not null, "level", $"must be variant, family or manufacturer (got '{text}')");
            var plan = FgvcAircraft.Plan(folder, new FgvcAircraft.Options(parsed!.Value, parse.GetValue(cropBanner)));
            return PrepareCommand.Write(plan, parse.GetValue(output)!);
        });
        return command;
    }
}

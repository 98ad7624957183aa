using System.CommandLine;
using System.Globalization;
using Smile.Data;

namespace Smile.Cli;

/// <summary>
/// The decompression-bomb limit (<see cref="ImageDecoder.MaxPixels"/>) is one process-wide setting. Every verb reads
/// it from SMILE_MAX_IMAGE_PIXELS; the verbs that decode images also take --max_image_pixels, which wins. The flag
/// is added here, to the verbs found by name, so that no verb's own file has to know about it.
/// </summary>
internal static class ImageLimitOption
{
    public const string EnvironmentVariable = "SMILE_MAX_IMAGE_PIXELS";
    private const string FlagName = "max_image_pixels";

    /// <summary>The verbs (paths of subcommand names) that decode images a user may have collected from anywhere.</summary>
    private static readonly string[][] ImageVerbs =
    [
        ["finetune"], ["distill"], ["test"], ["predict"], ["calibrate"], ["check-data"],
        ["simtrans", "weights"], ["simtrans", "train-simnet"], ["prepare", "weak-shot"],
    ];

    /// <summary>Adds --max_image_pixels to each image verb of <paramref name="root"/> (a missing verb is a bug).</summary>
    public static void AddTo(RootCommand root)
    {
        foreach (var path in ImageVerbs)
        {
            Command command = root;
            foreach (var name in path)
                command = command.Subcommands.FirstOrDefault(c => c.Name == name)
                    ?? throw new InvalidOperationException($"no verb '{string.Join(' ', path)}' to add --{FlagName} to");
            command.Options.Add(Flags.Optional<string>(FlagName,
                $"Refuse images of more pixels (width x height) than this, read from the file's header before decoding " +
                $"(default {ImageDecoder.DefaultMaxPixels}, Pillow's decompression-bomb limit; also {EnvironmentVariable})."));
        }
    }

    /// <summary>Sets <see cref="ImageDecoder.MaxPixels"/> from the environment, then from the parsed verb's flag.</summary>
    public static void Apply(ParseResult parse)
    {
        if (parse.Errors.Count > 0) return; // the parser reports those; nothing will run
        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
            ImageDecoder.MaxPixels = Parse(fromEnvironment, EnvironmentVariable);
        var flag = parse.CommandResult.Command.Options.OfType<Option<string?>>().FirstOrDefault(o => o.Name == "--" + FlagName);
        if (flag is not null && parse.GetValue(flag) is string fromFlag)
            ImageDecoder.MaxPixels = Parse(fromFlag, "--" + FlagName);
    }

    private static long Parse(string text, string source) =>
        long.TryParse(text.Replace("_", ""), NumberStyles.None, CultureInfo.InvariantCulture, out long value) && value >= 1
            ? value
            : throw new UsageException($"{source}: must be a whole number of pixels, at least 1 (got '{text}')");
}

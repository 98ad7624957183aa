using System.CommandLine;
using Smile.Training;

namespace Smile.Cli;

/// <summary>
/// The training-protocol flags of `finetune` and `distill`, for every method: the backbone's learning-rate ratio,
/// freezing by parameter-name prefix and the training crop (TLlib's protocol: --backbone_lr_ratio 0.1 --train_crop
/// random_resized --train_crop_min_scale 0.2). Each is checked here, a --freeze prefix against the architecture's
/// parameter names (<see cref="FrozenParts.Check"/>).
/// </summary>
internal sealed class ProtocolFlags
{
    private static readonly FinetuneOptions Defaults = new() { TrainDir = "" };

    public Option<double> BackboneLrRatio { get; } = Flags.Make("backbone_lr_ratio",
        "The backbone's learning rate as a fraction of --lr; the heads (fc, aux_fc) get --lr (1: one rate, the reference's; TLlib's --finetune: 0.1).", Defaults.BackboneLrRatio);
    public Option<string?> Freeze { get; } = Flags.Optional<string>("freeze",
        "Keep these parts as loaded: comma-separated parameter-name prefixes (conv1,bn1,layer1); no gradient, no optimizer state, their BatchNorms in eval mode.");
    public Option<string> TrainCrop { get; } = Flags.Make("train_crop",
        "Training crop: resize_crop (resize to 256/224 of --image_size, random crop; the reference's) or random_resized (torchvision's RandomResizedCrop, TLlib's).", Defaults.TrainCrop);
    public Option<double> TrainCropMinScale { get; } = Flags.Make("train_crop_min_scale",
        "With --train_crop random_resized: the smallest fraction of the image's area a crop covers (torchvision's 0.08; TLlib's 0.2).", Defaults.TrainCropMinScale);

    public IEnumerable<Option> Options => [BackboneLrRatio, Freeze, TrainCrop, TrainCropMinScale];

    /// <summary><paramref name="options"/> with the protocol flags' values, each checked with its own one-line error.</summary>
    public FinetuneOptions Apply(ParseResult parse, FinetuneOptions options)
    {
        double ratio = parse.GetValue(BackboneLrRatio);
        Flags.Require(ratio >= 0 && double.IsFinite(ratio), "backbone_lr_ratio", $"must be a finite number, 0 or more (got {ratio})");
        string[] prefixes = [];
        if (parse.GetValue(Freeze) is { } freeze)
        {
            prefixes = freeze.Split(',').Select(p => p.Trim()).ToArray();
            Flags.Require(prefixes.All(p => p.TrimEnd('.').Length > 0), "freeze", $"an empty prefix in '{freeze}': give parameter-name prefixes separated by commas (conv1,bn1,layer1)");
        }
        string crop = parse.GetValue(TrainCrop)!.Trim().ToLowerInvariant();
        Flags.Require(FinetuneOptions.TrainCrops.Contains(crop), "train_crop", $"must be {string.Join(" or ", FinetuneOptions.TrainCrops)}, not '{crop}'");
        double minScale = parse.GetValue(TrainCropMinScale);
        Flags.Require(minScale > 0 && minScale <= 1, "train_crop_min_scale", $"must be in (0, 1] (got {minScale})");
        Flags.Require(crop == "random_resized" || minScale == Defaults.TrainCropMinScale, "train_crop_min_scale", "is for --train_crop random_resized");
        FrozenParts.Check(options.ModelArch, prefixes); // a prefix naming no parameter: --freeze's one line, before anything is written
        return options with { BackboneLrRatio = ratio, Freeze = prefixes, TrainCrop = crop, TrainCropMinScale = minScale };
    }
}

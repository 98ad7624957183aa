using Serilog;
using Smile.Data;
using Smile.Models;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.WeakShot;

/// <summary>
/// Builds the SimNet a run starts from (docs/METHODS.md, "Setting and pipeline", step 0: the backbone is the classifier
/// trained on the clean base classes). --pretrained is a Smile classifier checkpoint, whose classes must be the
/// base folder's, or a plain state dict (.pth/.safetensors, e.g. ImageNet weights), whose classes cannot be
/// checked and whose classifier head is not loaded: the SimNet never uses the head (it reads the pooled
/// features), it is only kept so that the SimNet's backbone has the classifier's exact layout.
/// </summary>
public static class SimNetSetup
{
    public const string DefaultArchitecture = "resnet50";

    /// <summary>The new SimNet on <paramref name="device"/>, and the normalisation its images need.</summary>
    public static (SimNet Net, Normalization Normalization) Create(SimNetOptions o, IReadOnlyList<string> baseClasses, Device device, ILogger log)
    {
        string? arch = o.ModelArch is { } a ? ModelFactory.CanonicalName(a) : null;
        var normalization = Normalization.ImageNet;
        ImageClassifier backbone;
        if (o.Pretrained is null)
        {
            backbone = ModelFactory.Create(arch ?? DefaultArchitecture, baseClasses.Count);
            log.Warning("No pre-trained weights: the {Arch} backbone starts from random initialisation (SimTrans starts it from a classifier of the base classes)", backbone.Architecture);
        }
        else if (Checkpoint.IsCheckpoint(o.Pretrained))
        {
            var info = Checkpoint.ReadInfo(o.Pretrained);
            if (arch is not null && arch != info.Architecture)
                throw new WeightFileException(o.Pretrained, $"`model_arch` {arch} does not match the checkpoint's {info.Architecture}");
            if (!info.Classes.SequenceEqual(baseClasses, StringComparer.Ordinal))
                throw new WeightFileException(o.Pretrained, $"`pretrained` was trained on other classes ({Describe(info.Classes)}) than `base_dir` {o.BaseDir} ({Describe(baseClasses)})");
            backbone = ModelFactory.Create(info.Architecture, info.Classes.Count);
            normalization = new Normalization(info.Mean, info.Std);
            LoadInto(backbone, o.Pretrained, keepHead: true);
            log.Information("Backbone: {Arch} from the base classifier {Path} ({Classes} classes)", info.Architecture, o.Pretrained, info.Classes.Count);
        }
        else
        {
            if (IsSimNet(o.Pretrained))
                throw new WeightFileException(o.Pretrained, "`pretrained` is a SimNet, not a classifier: continue a SimNet run with `resume`");
            backbone = ModelFactory.Create(arch ?? DefaultArchitecture, baseClasses.Count);
            LoadInto(backbone, o.Pretrained, keepHead: false);
            log.Warning("The pre-trained weights {Path} are a plain state dict: their classes cannot be checked against the base classes, and their classifier head is not loaded (the SimNet does not use it)", o.Pretrained);
        }
        try
        {
            if (o.RelationDim is < 1) throw new ModelConfigException($"`relation_dim` must be at least 1 (got {o.RelationDim})");
            var net = new SimNet(backbone, o.RelationDim);
            net.to(device);
            return (net, normalization);
        }
        catch
        {
            backbone.Dispose();
            throw;
        }
    }

    /// <summary>Loads the classifier's own tensors (not its aux head, optimizer state or mean teacher) strictly
    /// (<see cref="ClassifierWeights"/>); a plain state dict's head is skipped.</summary>
    private static void LoadInto(ImageClassifier backbone, string path, bool keepHead)
    {
        try
        {
            ClassifierWeights.LoadInto(backbone, path, withAuxHead: false, skipPrefixes: keepHead ? null : [backbone.HeadName + "."]);
        }
        catch
        {
            backbone.Dispose();
            throw;
        }
    }

    private static bool IsSimNet(string path)
    {
        try { return SafetensorsFile.ReadMetadata(path).GetValueOrDefault("smile_format") == SimNetInfo.FormatName; }
        catch (WeightFileException) { return false; }
    }

    /// <summary>"3: ant, bee, cat" or "150: a, b, c, ..." for one-line errors.</summary>
    internal static string Describe(IReadOnlyList<string> classes) =>
        $"{classes.Count}: {string.Join(", ", classes.Take(3))}{(classes.Count > 3 ? ", ..." : "")}";
}

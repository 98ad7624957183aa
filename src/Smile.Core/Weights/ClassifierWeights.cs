using Smile.Models;
using static TorchSharp.torch;

namespace Smile.Weights;

/// <summary>
/// The one way a weights file becomes a classifier's tensors, whatever its kind: a Smile checkpoint (its student
/// only: no optimizer state, no mean teacher) or a plain state dict (.pth, .pt or safetensors, as PyTorch and
/// timm write them). Fine-tuning's source model, a SimNet's backbone, and evaluation's trained model all read
/// their weights here.
/// </summary>
public static class ClassifierWeights
{
    /// <summary>The classifier tensors of <paramref name="path"/> (the caller owns them), and the checkpoint's
    /// info when it is a Smile checkpoint. <paramref name="withAuxHead"/> false leaves out aux_fc.*.</summary>
    public static (Dictionary<string, Tensor> Tensors, CheckpointInfo? Info) Read(string path, bool withAuxHead = true)
    {
        bool checkpoint = Checkpoint.IsCheckpoint(path);
        var (info, all) = checkpoint ? Checkpoint.Load(path) : (null, WeightFile.Read(path));
        bool Keep(string name) => (withAuxHead || !name.StartsWith("aux_fc.", StringComparison.Ordinal))
            && !name.StartsWith(Checkpoint.OptimizerPrefix, StringComparison.Ordinal) && !name.StartsWith(Checkpoint.TeacherPrefix, StringComparison.Ordinal);
        foreach (var (name, tensor) in all)
            if (!Keep(name)) tensor.Dispose();
        return (all.Where(p => Keep(p.Key)).ToDictionary(p => p.Key, p => p.Value), info);
    }

    /// <summary>Reads <paramref name="path"/> and loads it into <paramref name="model"/> strictly (every name and shape
    /// must match, except under <paramref name="skipPrefixes"/>); the file's tensors are freed.</summary>
    public static CheckpointInfo? LoadInto(ImageClassifier model, string path, bool withAuxHead = true, IEnumerable<string>? skipPrefixes = null)
    {
        var (tensors, info) = Read(path, withAuxHead);
        try
        {
            StateDictLoader.Load(model, tensors, path, skipPrefixes: skipPrefixes);
            return info;
        }
        finally
        {
            foreach (var tensor in tensors.Values) tensor.Dispose();
        }
    }
}

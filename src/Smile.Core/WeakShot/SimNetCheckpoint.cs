using System.Globalization;
using System.Text.Json;
using Smile.Models;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.WeakShot;

/// <summary>
/// What a SimNet checkpoint says about itself: the backbone's architecture and the base classes its classifier
/// head was trained on (the head is kept, so the file loads strictly), the relation width, the image size and
/// normalisation of its transform, and the epoch and held-out F1 it was saved at.
/// </summary>
public sealed record SimNetInfo(
    string Architecture,
    IReadOnlyList<string> BaseClasses,
    int RelationDim,
    int ImageSize,
    float[] Mean,
    float[] Std,
    int Epoch,
    double BestF1,
    IReadOnlyDictionary<string, string> Arguments)
{
    public const string FormatName = "smile-simnet";
    public const int FormatVersion = 1;

    /// <summary>Where the run stood (metadata "run_state", JSON; _Last files), or null. The engine writes and reads it.</summary>
    public string? RunState { get; init; }
}

/// <summary>
/// A SimNet in one safetensors file: <c>backbone.*</c> and <c>head.*</c> tensors, optional extra tensors under
/// their own prefixes (the optimizer's momentum, the discriminator, for resuming), and <see cref="SimNetInfo"/>
/// in the header. Written atomically like every Smile checkpoint. A Smile classifier checkpoint and a SimNet are
/// told apart by their format name, so neither is mistaken for the other.
/// </summary>
public static class SimNetCheckpoint
{
    public static void Save(string path, SimNet net, SimNetInfo info, IReadOnlyDictionary<string, Tensor>? extra = null)
    {
        var c = CultureInfo.InvariantCulture;
        var tensors = new Dictionary<string, Tensor>(net.state_dict());
        if (extra is not null)
            foreach (var (name, tensor) in extra) tensors.Add(name, tensor);
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["smile_format"] = SimNetInfo.FormatName,
            ["smile_format_version"] = SimNetInfo.FormatVersion.ToString(c),
            ["architecture"] = info.Architecture,
            ["base_classes"] = JsonSerializer.Serialize(info.BaseClasses),
            ["relation_dim"] = info.RelationDim.ToString(c),
            ["image_size"] = info.ImageSize.ToString(c),
            [NormalizationMetadata.Key] = NormalizationMetadata.Write(info.Mean, info.Std),
            ["epoch"] = info.Epoch.ToString(c),
            ["best_f1"] = info.BestF1.ToString("R", c),
            ["arguments"] = JsonSerializer.Serialize(info.Arguments),
        };
        if (info.RunState is { } state) metadata[Checkpoint.RunStateKey] = state;
        SafetensorsFile.Write(path, tensors, metadata);
    }

    public static SimNetInfo ReadInfo(string path) => Parse(path, SafetensorsFile.ReadMetadata(path));

    /// <summary>Rebuilds the SimNet (strictly: every backbone and head tensor must be there, with its shape) on
    /// <paramref name="device"/>, in eval mode; tensors under other prefixes are returned to the caller, who owns
    /// them.</summary>
    public static (SimNet Net, SimNetInfo Info, Dictionary<string, Tensor> Extra) Load(string path, Device device)
    {
        var info = ReadInfo(path);
        if (!ModelFactory.IsKnown(info.Architecture))
            throw new WeightFileException(path, $"SimNet backbone '{info.Architecture}' is not a known architecture");
        var net = new SimNet(ModelFactory.Create(info.Architecture, info.BaseClasses.Count), info.RelationDim);
        try
        {
            var own = net.state_dict().Keys.ToHashSet(StringComparer.Ordinal);
            var extra = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            using (var scope = NewDisposeScope())
            {
                var all = SafetensorsFile.Read(path);
                StateDictLoader.Load(net, all.Where(p => own.Contains(p.Key) || IsNetworkTensor(p.Key)).ToDictionary(p => p.Key, p => p.Value), path);
                foreach (var (name, tensor) in all)
                    if (!own.Contains(name) && !IsNetworkTensor(name)) extra[name] = tensor.MoveToOuterDisposeScope();
            }
            net.to(device).eval();
            return (net, info, extra);
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }

    // A backbone.* or head.* tensor the model does not have is a wrong file, not an extra: the strict load names it.
    private static bool IsNetworkTensor(string name) =>
        name.StartsWith("backbone.", StringComparison.Ordinal) || name.StartsWith("head.", StringComparison.Ordinal);

    private static SimNetInfo Parse(string path, IReadOnlyDictionary<string, string> m)
    {
        if (m.GetValueOrDefault("smile_format") != SimNetInfo.FormatName)
            throw new WeightFileException(path, m.GetValueOrDefault("smile_format") is { } other
                ? $"a {other} file, not a SimNet (train one with `smile simtrans train-simnet`)"
                : "not a SimNet checkpoint (no smile_format metadata; train one with `smile simtrans train-simnet`)");
        var c = CultureInfo.InvariantCulture;
        try
        {
            var (mean, std) = NormalizationMetadata.Read(m);
            return new SimNetInfo(
                m["architecture"],
                MetadataChecks.ClassNames(JsonSerializer.Deserialize<string[]>(m["base_classes"]), "base_classes"),
                MetadataChecks.Positive(m, "relation_dim"),
                MetadataChecks.ImageSize(m),
                mean,
                std,
                int.Parse(m["epoch"], c),
                double.Parse(m["best_f1"], c),
                JsonSerializer.Deserialize<Dictionary<string, string>>(m["arguments"]) ?? new Dictionary<string, string>())
            {
                RunState = m.GetValueOrDefault(Checkpoint.RunStateKey),
            };
        }
        catch (Exception e) when (e is KeyNotFoundException or FormatException or OverflowException or JsonException or InvalidOperationException)
        {
            throw new WeightFileException(path, $"damaged SimNet metadata ({e.Message})", e);
        }
    }
}

using System.Text.Json;
using Smile.Models;
using TorchSharp;

namespace Smile.Weights;

/// <summary>
/// What a Smile checkpoint says about itself (the safetensors header's metadata): enough to rebuild the
/// model, map classes, reproduce the transform and resume the run.
/// </summary>
public sealed record CheckpointInfo(
    string Architecture,
    IReadOnlyList<string> Classes,
    int? AuxClasses,
    int ImageSize,
    float[] Mean,
    float[] Std,
    long Iteration,
    double BestAccuracy,
    string Regularizer,
    IReadOnlyDictionary<string, string> Arguments)
{
    public const string FormatName = "smile-checkpoint";
    public const int FormatVersion = 1;

    /// <summary>The temperature fitted by `smile calibrate` (metadata "temperature"), or null. Never written
    /// by <see cref="Checkpoint.Save"/>: a temperature belongs to the weights it was fitted on, so a newly
    /// saved checkpoint starts without one (see <see cref="Checkpoint.WriteTemperature"/>).</summary>
    public double? Temperature { get; init; }

    /// <summary>Where the run stood when this file was written (metadata "run_state", JSON; _Last files), or null.
    /// The training engine writes and reads it; the file format only carries it.</summary>
    public string? RunState { get; init; }
}

/// <summary>
/// One safetensors file per checkpoint (docs/DESIGN.md, "Checkpoints"): the student's tensors under torchvision
/// names, and in _Last files only the optimizer's state under "optimizer.momentum." and the mean teacher (for
/// resuming SMILE) under "teacher.", and <see cref="CheckpointInfo"/> as JSON strings in the header. Written atomically, so a
/// crash never leaves half a checkpoint. A PyTorch user reads it with safetensors.torch.load_file.
/// </summary>
public static class Checkpoint
{
    public const string OptimizerPrefix = "optimizer.momentum.";
    public const string TeacherPrefix = "teacher.";
    public const string TemperatureKey = "temperature";
    public const string RunStateKey = "run_state";

    public static void Save(string path, ImageClassifier student, CheckpointInfo info,
        IReadOnlyDictionary<string, torch.Tensor>? momentum = null, ImageClassifier? teacher = null)
    {
        var tensors = new Dictionary<string, torch.Tensor>(student.state_dict());
        if (momentum is not null)
            foreach (var (name, buffer) in momentum) tensors[OptimizerPrefix + name] = buffer;
        if (teacher is not null)
            foreach (var (name, value) in teacher.state_dict()) tensors[TeacherPrefix + name] = value;
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt", // what the Python safetensors library expects for torch tensors
            ["smile_format"] = CheckpointInfo.FormatName,
            ["smile_format_version"] = CheckpointInfo.FormatVersion.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["architecture"] = info.Architecture,
            ["classes"] = JsonSerializer.Serialize(info.Classes),
            ["aux_classes"] = info.AuxClasses?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "",
            ["image_size"] = info.ImageSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [NormalizationMetadata.Key] = NormalizationMetadata.Write(info.Mean, info.Std),
            ["iteration"] = info.Iteration.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["best_accuracy"] = info.BestAccuracy.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            ["regularizer"] = info.Regularizer,
            ["arguments"] = JsonSerializer.Serialize(info.Arguments),
        };
        if (info.RunState is { } state) metadata[RunStateKey] = state;
        SafetensorsFile.Write(path, tensors, metadata);
    }

    /// <summary>
    /// Stores <paramref name="temperature"/> in the checkpoint's metadata (replacing an earlier one). The file is
    /// rewritten atomically (temporary file, then rename); every tensor's bytes and every other metadata entry
    /// stay as they were.
    /// </summary>
    public static void WriteTemperature(string path, double temperature)
    {
        if (!(temperature > 0) || double.IsInfinity(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), "must be a positive finite number");
        ReadInfo(path); // only a Smile checkpoint gets a temperature
        SafetensorsFile.UpdateMetadata(path, new Dictionary<string, string>
        {
            [TemperatureKey] = temperature.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        });
    }

    /// <summary>True when the file is a safetensors file written by <see cref="Save"/>.</summary>
    public static bool IsCheckpoint(string path)
    {
        try { return SafetensorsFile.ReadMetadata(path).GetValueOrDefault("smile_format") == CheckpointInfo.FormatName; }
        catch (WeightFileException) { return false; }
    }

    public static CheckpointInfo ReadInfo(string path) => Parse(path, SafetensorsFile.ReadMetadata(path));

    /// <summary>The info and all tensors (student under plain names, the rest under their prefixes).</summary>
    public static (CheckpointInfo Info, Dictionary<string, torch.Tensor> Tensors) Load(string path)
    {
        var (tensors, metadata) = SafetensorsFile.ReadWithMetadata(path);
        try { return (Parse(path, metadata), tensors); }
        catch { foreach (var t in tensors.Values) t.Dispose(); throw; }
    }

    /// <summary>The student's own tensors: everything without an optimizer or teacher prefix.</summary>
    public static Dictionary<string, torch.Tensor> StudentTensors(IReadOnlyDictionary<string, torch.Tensor> all) =>
        all.Where(p => !p.Key.StartsWith(OptimizerPrefix, StringComparison.Ordinal) && !p.Key.StartsWith(TeacherPrefix, StringComparison.Ordinal))
           .ToDictionary(p => p.Key, p => p.Value);

    public static Dictionary<string, torch.Tensor> WithPrefix(IReadOnlyDictionary<string, torch.Tensor> all, string prefix) =>
        all.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(p => p.Key[prefix.Length..], p => p.Value);

    private static CheckpointInfo Parse(string path, IReadOnlyDictionary<string, string> m)
    {
        if (m.GetValueOrDefault("smile_format") != CheckpointInfo.FormatName)
            throw new WeightFileException(path, "not a Smile checkpoint (no smile_format metadata); plain weights are read with `pretrained`");
        try
        {
            var (mean, std) = NormalizationMetadata.Read(m);
            return new CheckpointInfo(
                m["architecture"],
                MetadataChecks.ClassNames(JsonSerializer.Deserialize<string[]>(m["classes"]), "classes"),
                m.GetValueOrDefault("aux_classes") is { Length: > 0 } ? MetadataChecks.Positive(m, "aux_classes") : null,
                MetadataChecks.ImageSize(m),
                mean,
                std,
                long.Parse(m["iteration"], System.Globalization.CultureInfo.InvariantCulture),
                double.Parse(m["best_accuracy"], System.Globalization.CultureInfo.InvariantCulture),
                m["regularizer"],
                JsonSerializer.Deserialize<Dictionary<string, string>>(m["arguments"]) ?? new Dictionary<string, string>())
            {
                Temperature = m.TryGetValue(TemperatureKey, out var t) ? ParseTemperature(t) : null,
                RunState = m.GetValueOrDefault(RunStateKey),
            };
        }
        catch (Exception e) when (e is KeyNotFoundException or FormatException or OverflowException or JsonException or InvalidOperationException)
        {
            throw new WeightFileException(path, $"damaged Smile checkpoint metadata ({e.Message})", e);
        }
    }

    private static double ParseTemperature(string text)
    {
        double t = double.Parse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture);
        return t > 0 && double.IsFinite(t) ? t : throw new FormatException($"temperature {text} is not a positive finite number");
    }
}

using Smile.Evaluation;
using Smile.Weights;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// A method's extra frozen network (ILS's and kd's teacher): a Smile checkpoint of the run's own task, in eval
/// mode and without gradients. It must have been trained on the run's classes, in the same order: a teacher of
/// another task would give silently wrong targets.
/// </summary>
public static class FrozenClassifier
{
    /// <summary>Loads <paramref name="path"/> (named by the method's setting <paramref name="setting"/>) onto
    /// <paramref name="device"/>; the caller owns the result.</summary>
    public static TrainedModel Load(string path, string setting, IReadOnlyList<string> classes, Device device)
    {
        var trained = TrainedModel.Load(path, device);
        if (!trained.Info.Classes.SequenceEqual(classes, StringComparer.Ordinal))
        {
            trained.Dispose();
            throw new WeightFileException(path, $"{setting} was trained on other classes ({trained.Info.Classes.Count}: " +
                $"{string.Join(", ", trained.Info.Classes.Take(3))}...) than this training folder ({classes.Count}: {string.Join(", ", classes.Take(3))}...)");
        }
        foreach (var parameter in trained.Model.parameters()) parameter.requires_grad = false;
        trained.Model.eval();
        return trained;
    }
}

using Smile.Evaluation;
using Smile.Models;
using Smile.Weights;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// The extra frozen networks a regularizer asks for (<see cref="IRegularizer.FrozenNetworks"/>), each loaded
/// from the Smile checkpoint the run names for its role, in eval mode and without gradients. A checkpoint
/// must have been trained on the run's classes, in the same order: a teacher of another task would give
/// silently wrong targets.
/// </summary>
public sealed class FrozenNetworkSet : IDisposable
{
    private readonly List<TrainedModel> loaded = [];

    public IReadOnlyDictionary<string, ImageClassifier> Networks { get; }

    private FrozenNetworkSet(Dictionary<string, ImageClassifier> networks) => Networks = networks;

    public static FrozenNetworkSet Load(IRegularizer regularizer, IReadOnlyDictionary<string, string> files, IReadOnlyList<string> classes, Device device)
    {
        foreach (var role in files.Keys)
            if (!regularizer.FrozenNetworks.Contains(role))
                throw new ModelConfigException($"--{role} is not used by --regularizer {regularizer.Name}");
        var networks = new Dictionary<string, ImageClassifier>(StringComparer.Ordinal);
        var set = new FrozenNetworkSet(networks);
        try
        {
            foreach (var role in regularizer.FrozenNetworks)
            {
                if (!files.TryGetValue(role, out var path) || string.IsNullOrWhiteSpace(path))
                    throw new ModelConfigException($"--regularizer {regularizer.Name} needs --{role} CHECKPOINT");
                var trained = TrainedModel.Load(path, device);
                set.loaded.Add(trained);
                if (!trained.Info.Classes.SequenceEqual(classes, StringComparer.Ordinal))
                    throw new WeightFileException(path, $"--{role} was trained on other classes ({trained.Info.Classes.Count}: " +
                        $"{string.Join(", ", trained.Info.Classes.Take(3))}...) than this training folder ({classes.Count}: {string.Join(", ", classes.Take(3))}...)");
                foreach (var parameter in trained.Model.parameters()) parameter.requires_grad = false;
                trained.Model.eval();
                networks[role] = trained.Model;
            }
            return set;
        }
        catch
        {
            set.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var model in loaded) model.Dispose();
        loaded.Clear();
    }
}

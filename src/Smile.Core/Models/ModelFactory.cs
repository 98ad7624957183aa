using TorchSharp;

namespace Smile.Models;

/// <summary>An unknown architecture name, or options a model cannot be built with. The message is user-facing.</summary>
public sealed class ModelConfigException(string message) : Exception(message);

/// <summary>Builds models by name, so the CLI's <c>--model_arch</c> maps straight onto it: one line per architecture.</summary>
public static class ModelFactory
{
    private sealed record Entry(string Name, string HeadName, Func<int, int?, ImageClassifier> Create);

    private static readonly Entry[] All =
    [
        .. ResNetSpec.All.Select(spec => new Entry(spec.Name, "fc", (k, aux) => new ResNet(spec, k, aux))),
        new Entry(DenseNetSpec.DenseNet121.Name, "classifier", (k, aux) => new DenseNet(DenseNetSpec.DenseNet121, k, aux)),
        new Entry(ShallowCnn.Name, "fc", (k, aux) => new ShallowCnn(k, aux)),
    ];

    private static readonly Dictionary<string, Entry> ByName = All.ToDictionary(e => e.Name, StringComparer.OrdinalIgnoreCase);

    public static IReadOnlyList<string> Names { get; } = All.Select(e => e.Name).ToArray();

    public static bool IsKnown(string name) => ByName.ContainsKey(name.Trim());

    /// <summary>The architecture's canonical name ("ResNet50 " gives "resnet50").</summary>
    public static string CanonicalName(string name) => Find(name).Name;

    /// <summary>The state-dict prefix of the architecture's classifier ("fc", or torchvision DenseNet's "classifier").</summary>
    public static string HeadName(string name) => Find(name).HeadName;

    private static Entry Find(string name) =>
        ByName.TryGetValue(name.Trim(), out var entry)
            ? entry
            : throw new ModelConfigException($"unknown model architecture '{name}'; known: {string.Join(", ", Names)}");

    /// <summary>A freshly initialised model (torchvision's initialisation) with <paramref name="numClasses"/> outputs
    /// and, if <paramref name="auxClasses"/> is given, an <c>aux_fc</c> head of that size. LibTorch's NNPACK is off from
    /// the first call on (<see cref="Native.Nnpack"/>), and oneDNN's cache sizes are set up (<see cref="Native.OneDnnCacheSizes"/>).</summary>
    public static ImageClassifier Create(string name, int numClasses, int? auxClasses = null)
    {
        var entry = Find(name);
        if (numClasses < 1) throw new ModelConfigException($"{entry.Name}: the number of classes must be at least 1 (got {numClasses})");
        if (auxClasses is < 1) throw new ModelConfigException($"{entry.Name}: the aux head needs at least 1 class (got {auxClasses})");
        var model = OnCpu(() => entry.Create(numClasses, auxClasses)); // LibTorch is loaded from here on
        // Every model of the process passes here before its first convolution: the place to silence NNPACK's
        // "could not initialize" line per small-batch convolution (Smile.Native.Nnpack says why nothing else changes).
        Native.Nnpack.Disable();
        // ... and to give oneDNN usable cache sizes where the machine hides them (Smile.Native.OneDnnCacheSizes).
        Native.OneDnnCacheSizes.Apply();
        return model;
    }

    /// <summary>Builds on the CPU whatever LibTorch's default device is: a module does not know where parameters made
    /// on another default device live, so its <c>to(device)</c> would skip them and weights loaded into them would be
    /// lost. Callers load weights on the CPU and then move the model.</summary>
    private static T OnCpu<T>(Func<T> build)
    {
        var previous = torch.get_default_device();
        if (previous.type == DeviceType.CPU) return build();
        torch.set_default_device(torch.CPU);
        try { return build(); }
        finally { torch.set_default_device(previous); }
    }
}

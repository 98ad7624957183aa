namespace Smile.Models;

/// <summary>An unknown architecture name, or options a model cannot be built with. The message is user-facing.</summary>
public sealed class ModelConfigException(string message) : Exception(message);

/// <summary>Builds models by name, so the CLI's <c>--model_arch</c> maps straight onto it.</summary>
public static class ModelFactory
{
    private static readonly Dictionary<string, ResNetSpec> Specs =
        ResNetSpec.All.ToDictionary(s => s.Name, StringComparer.OrdinalIgnoreCase);

    public static IReadOnlyList<string> Names { get; } = ResNetSpec.All.Select(s => s.Name).ToArray();

    public static bool IsKnown(string name) => Specs.ContainsKey(name);

    public static ResNetSpec Spec(string name) =>
        Specs.TryGetValue(name.Trim(), out var spec)
            ? spec
            : throw new ModelConfigException($"unknown model architecture '{name}'; known: {string.Join(", ", Names)}");

    /// <summary>A freshly initialised model (torchvision's initialisation) with <paramref name="numClasses"/> outputs
    /// and, if <paramref name="auxClasses"/> is given, an <c>aux_fc</c> head of that size.</summary>
    public static ResNet Create(string name, int numClasses, int? auxClasses = null)
    {
        var spec = Spec(name);
        if (numClasses < 1) throw new ModelConfigException($"{spec.Name}: the number of classes must be at least 1 (got {numClasses})");
        if (auxClasses is < 1) throw new ModelConfigException($"{spec.Name}: the aux head needs at least 1 class (got {auxClasses})");
        return new ResNet(spec, numClasses, auxClasses);
    }
}

using Smile.Models;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// The student's parts frozen by parameter-name prefix (the `freeze` setting): their parameters get
/// <c>requires_grad = false</c> and stay out of the optimizer (no state, no update, no weight decay). A prefix names
/// whole name segments: <c>layer1</c> freezes <c>layer1.0.conv1.weight</c> but not <c>layer10.*</c>; <c>layer1.0</c>
/// one block. A prefix that matches no parameter, or one that matches a head (<see cref="ParameterGroups.IsHead"/>:
/// the new head must train), is refused.
/// <para>
/// BatchNorm layers whose parameters are frozen are held in eval mode during training, as timm's <c>freeze()</c> does
/// by turning them into FrozenBatchNorm2d: they normalise with their running statistics, which stay the pre-trained
/// ones (not updated). Plain <c>requires_grad = false</c> in PyTorch would still normalise with batch statistics and
/// update the running ones, so the "frozen" part would keep changing.
/// </para>
/// </summary>
public sealed class FrozenParts
{
    private readonly nn.Module[] batchNorms;

    private FrozenParts(IReadOnlyList<string> prefixes, IReadOnlySet<string> parameters, nn.Module[] batchNorms) =>
        (Prefixes, Parameters, this.batchNorms) = (prefixes, parameters, batchNorms);

    /// <summary>Nothing frozen.</summary>
    public static FrozenParts None { get; } = new([], new HashSet<string>(), []);

    /// <summary>The prefixes as given (trimmed, a trailing dot dropped).</summary>
    public IReadOnlyList<string> Prefixes { get; }

    /// <summary>The names of the frozen parameters.</summary>
    public IReadOnlySet<string> Parameters { get; }

    /// <summary>How many BatchNorm layers are held in eval mode.</summary>
    public int BatchNormCount => batchNorms.Length;

    /// <summary>Whether parameter <paramref name="name"/> lies under <paramref name="prefix"/> (whole segments).</summary>
    public static bool Matches(string name, string prefix) =>
        name.StartsWith(prefix, StringComparison.Ordinal) && (name.Length == prefix.Length || name[prefix.Length] == '.');

    /// <summary>Freezes the parameters of <paramref name="model"/> under <paramref name="prefixes"/>; a prefix that
    /// matches nothing or a head throws <see cref="ModelConfigException"/> (naming the `freeze` setting) before any
    /// parameter changes.</summary>
    public static FrozenParts Apply(ImageClassifier model, IReadOnlyList<string> prefixes)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prefixes);
        var cleaned = prefixes.Select(p => p.Trim().TrimEnd('.')).Where(p => p.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        if (cleaned.Count == 0) return None;
        var named = model.named_parameters().ToList();
        var frozen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var prefix in cleaned)
        {
            var matched = named.Where(p => Matches(p.name, prefix)).Select(p => p.name).ToList();
            if (matched.Count == 0)
                throw new ModelConfigException($"`freeze`: '{prefix}' matches no parameter of the {model.Architecture}; " +
                    $"its parameters start with {string.Join(", ", named.Select(p => p.name.Split('.')[0]).Distinct())}");
            if (matched.FirstOrDefault(ParameterGroups.IsHead) is { } head)
                throw new ModelConfigException($"`freeze`: '{prefix}' matches the head parameter '{head}', which must train; freeze backbone parts only");
            frozen.UnionWith(matched);
        }
        foreach (var (name, parameter) in named)
            if (frozen.Contains(name)) parameter.requires_grad = false;
        var norms = model.named_modules()
            .Where(m => IsBatchNorm(m.module) && m.module.named_parameters(recurse: false).Any()
                && m.module.named_parameters(recurse: false).All(p => frozen.Contains(m.name + "." + p.name)))
            .Select(m => m.module).ToArray();
        var parts = new FrozenParts(cleaned, frozen, norms);
        parts.HoldBatchNorms();
        return parts;
    }

    /// <summary>The checks of <see cref="Apply"/> on a throwaway model of <paramref name="architecture"/> (with an aux
    /// head, as a run from pre-trained weights has), so a bad prefix stops a run before it writes anything.</summary>
    public static void Check(string architecture, IReadOnlyList<string> prefixes)
    {
        ArgumentNullException.ThrowIfNull(prefixes);
        if (prefixes.Count == 0) return;
        using var model = ModelFactory.Create(architecture, 2, 2);
        Apply(model, prefixes);
    }

    /// <summary>Puts the frozen BatchNorm layers in eval mode. Call after every <c>train()</c> of the model (the
    /// evaluator's switch back to train mode included): the engine calls it before each step.</summary>
    public void HoldBatchNorms()
    {
        foreach (var norm in batchNorms) norm.eval();
    }

    private static bool IsBatchNorm(nn.Module module) =>
        module is TorchSharp.Modules.BatchNorm;
}

namespace Smile.Training;

/// <summary>The registry of fine-tuning methods: a new method is one class and one line here.</summary>
public static class Regularizers
{
    private static readonly (string Name, Func<IRegularizer> Create)[] All =
    [
        ("smile", () => new SmileRegularizer()),
        ("l2", () => new L2Regularizer()),
        ("mixup", () => new MixupRegularizer()),
        ("l2sp", () => new L2SpRegularizer()),
        ("ls", () => new LabelSmoothingRegularizer()),
        ("ils", () => new InstanceLabelSmoothingRegularizer()),
        ("kd", () => new DistillationRegularizer()),
        ("simtrans", () => new SimTransRegularizer()),
    ];

    public static IReadOnlyList<string> Names { get; } = All.Select(r => r.Name).ToArray();

    /// <summary>A new instance by name (case-insensitive, surrounding blanks ignored).</summary>
    /// <exception cref="ArgumentException">"unknown regularizer 'x'; known: smile, l2, mixup, l2sp, ls, ils, kd, simtrans" (user-facing).</exception>
    public static IRegularizer Create(string name)
    {
        var key = name?.Trim() ?? "";
        foreach (var (known, create) in All)
            if (string.Equals(known, key, StringComparison.OrdinalIgnoreCase))
                return create();
        // No paramName: ArgumentException would append "(Parameter 'name')" to a message the CLI shows as is.
        throw new ArgumentException($"unknown regularizer '{name}'; known: {string.Join(", ", Names)}");
    }
}

using Smile.Training;
using Smile.WeakShot;

namespace Smile.Methods;

/// <summary>The registry of fine-tuning methods: a new method is one class and one line here (or one
/// <see cref="Register"/> call, for a method defined outside Smile). It sits above Training and WeakShot, the
/// folders whose methods it lists, so that neither needs the other.</summary>
public static class Regularizers
{
    private static readonly List<(string Name, Func<IRegularizer> Create)> All =
    [
        ("smile", () => new SmileRegularizer()),
        ("l2", () => new L2Regularizer()),
        ("mixup", () => new MixupRegularizer()),
        ("l2sp", () => new L2SpRegularizer()),
        ("ls", () => new LabelSmoothingRegularizer()),
        ("ils", () => new InstanceLabelSmoothingRegularizer()),
        ("kd", () => new DistillationRegularizer()),
        ("simtrans", () => new SimTransRegularizer()),
        ("bss", () => new BssRegularizer()),
        ("rifle", () => new RifleRegularizer()),
        ("lwf", () => new LwfRegularizer()),
        ("cotuning", () => new CoTuningRegularizer()),
        ("delta", () => new DeltaRegularizer()),
    ];
    private static readonly Lock Gate = new();

    public static IReadOnlyList<string> Names { get { lock (Gate) return All.Select(r => r.Name).ToArray(); } }

    /// <summary>Adds a method (a user's own, or a test's). Its settings may share a name with another method's
    /// only if they agree in type and default (mixup's alpha is SMILE's alpha).</summary>
    public static void Register(string name, Func<IRegularizer> create)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(create);
        lock (Gate)
        {
            if (All.Any(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase)))
                throw new ArgumentException($"a method named '{name}' is already registered");
            All.Add((name, create));
        }
        try { _ = AllSettings(); }
        catch
        {
            lock (Gate) All.RemoveAll(r => r.Name == name);
            throw;
        }
    }

    /// <summary>A new instance by name (case-insensitive, surrounding blanks ignored).</summary>
    /// <exception cref="ArgumentException">"unknown regularizer 'x'; known: smile, l2, ..." (user-facing).</exception>
    public static IRegularizer Create(string name)
    {
        var key = name?.Trim() ?? "";
        Func<IRegularizer>? create;
        lock (Gate) create = All.FirstOrDefault(r => string.Equals(r.Name, key, StringComparison.OrdinalIgnoreCase)).Create;
        // No paramName: ArgumentException would append "(Parameter 'name')" to a message the CLI shows as is.
        return create?.Invoke() ?? throw new ArgumentException($"unknown regularizer '{name}'; known: {string.Join(", ", Names)}");
    }

    /// <summary>Every method's settings, each name once, with the methods that use it, in registry order.</summary>
    public static IReadOnlyList<(MethodSetting Setting, IReadOnlyList<string> Methods)> AllSettings()
    {
        var byName = new Dictionary<string, (MethodSetting Setting, List<string> Methods)>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var name in Names)
        {
            using var method = Create(name);
            foreach (var setting in method.Settings)
            {
                if (byName.TryGetValue(setting.Name, out var known))
                {
                    if (known.Setting.ValueType != setting.ValueType || !Equals(known.Setting.DefaultValue, setting.DefaultValue))
                        throw new InvalidOperationException($"methods {string.Join(", ", known.Methods)} and {name} declare setting '{setting.Name}' differently");
                    known.Methods.Add(name);
                }
                else
                {
                    byName[setting.Name] = (setting, [name]);
                    order.Add(setting.Name);
                }
            }
        }
        return order.Select(n => (byName[n].Setting, (IReadOnlyList<string>)byName[n].Methods)).ToList();
    }

    /// <summary>
    /// The method <paramref name="name"/>, configured from <paramref name="values"/>. Every given value is checked
    /// against its setting first; then a value other than the default for a setting that belongs to other methods
    /// only (<see cref="MethodSetting.OnlyForItsMethods"/>) is refused: it would be silently ignored.
    /// </summary>
    public static IRegularizer Configure(string name, MethodValues values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var method = Create(name);
        try
        {
            var own = method.Settings.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
            var all = AllSettings();
            foreach (var (setting, _) in all)
                if (values.IsGiven(setting.Name) && setting.Problem(values.GivenValue(setting.Name)) is { } problem)
                    throw new MethodSettingException(setting.Name, problem);
            foreach (var (setting, users) in all)
                if (!own.Contains(setting.Name) && setting.OnlyForItsMethods && values.IsGiven(setting.Name)
                    && !Equals(values.GivenValue(setting.Name), setting.DefaultValue))
                    throw new MethodSettingException(setting.Name, $"is used only by {Describe(users)}, not by {method.Name}");
            method.Configure(values);
            return method;
        }
        catch
        {
            method.Dispose();
            throw;
        }
    }

    private static string Describe(IReadOnlyList<string> methods) =>
        methods.Count == 1 ? $"the {methods[0]} method" : $"the methods {string.Join(", ", methods)}";
}

namespace Smile.Training;

/// <summary>
/// The values of the methods' settings for one run: what the user gave, the declared default otherwise. Which
/// settings were given is kept, so that a setting of another method given to this one is refused instead of
/// silently ignored.
/// </summary>
public sealed class MethodValues
{
    private readonly Dictionary<string, object?> given;

    public MethodValues(IReadOnlyDictionary<string, object?>? given = null) =>
        this.given = new Dictionary<string, object?>(given ?? new Dictionary<string, object?>(), StringComparer.Ordinal);

    public static MethodValues Defaults { get; } = new();

    /// <summary>The user's value of <paramref name="setting"/>, or its default.</summary>
    public T Get<T>(MethodSetting<T> setting)
    {
        ArgumentNullException.ThrowIfNull(setting);
        if (!given.TryGetValue(setting.Name, out var value)) return setting.Default;
        return value is T typed ? typed : value is null ? setting.Default
            : throw new MethodSettingException(setting.Name, $"expected a {typeof(T).Name}, got {value}");
    }

    /// <summary>The value of <paramref name="setting"/> without its type: the user's, or the default.</summary>
    public object? ValueOf(MethodSetting setting) => given.TryGetValue(setting.Name, out var value) && value is not null ? value : setting.DefaultValue;

    /// <summary>The user gave this setting (on the command line or in code), whatever its value.</summary>
    public bool IsGiven(string name) => given.ContainsKey(name);

    public IReadOnlyCollection<string> GivenNames => given.Keys;

    /// <summary>The value the user gave for <paramref name="name"/> (null when not given).</summary>
    public object? GivenValue(string name) => given.GetValueOrDefault(name);

    /// <summary>A copy with one more value.</summary>
    public MethodValues With(string name, object? value) => new(new Dictionary<string, object?>(given, StringComparer.Ordinal) { [name] = value });
}

using System.Globalization;

namespace Smile.Training;

/// <summary>
/// One setting a fine-tuning method declares for itself: its name (the CLI makes it the flag --NAME), a help
/// line, its default and its own check. The method's file is the only place that knows it; the CLI builds its
/// flag list from <see cref="Regularizers"/>, so a new method's settings need no other file.
/// </summary>
public abstract class MethodSetting(string name, string help)
{
    /// <summary>snake_case, as the reference's flags (alpha, reg_lambda, ils_teacher).</summary>
    public string Name { get; } = name;
    public string Help { get; } = help;
    /// <summary>double, long, int, bool or string (string settings are file paths or words; null when not given).</summary>
    public abstract Type ValueType { get; }
    public abstract object? DefaultValue { get; }

    /// <summary>Whether a value other than the default, given to a run of another method, is refused: true for
    /// the inputs and terms that mean nothing elsewhere (a teacher file, sample weights); false for settings a
    /// pasted reference command line carries for every method (alpha, plain_iters), which other methods ignore.</summary>
    public bool OnlyForItsMethods { get; init; }

    /// <summary>The problem with <paramref name="value"/> in words (without the setting's name), or null when it is fine.</summary>
    public abstract string? Problem(object? value);

    /// <summary>The value as text, as checkpoints store the run's settings.</summary>
    public static string Format(object? value) => value switch
    {
        null => "",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}

/// <summary>A typed <see cref="MethodSetting"/>. <paramref name="check"/> returns a problem in words, or null.</summary>
public sealed class MethodSetting<T>(string name, string help, T defaultValue, Func<T, string?>? check = null) : MethodSetting(name, help)
{
    public T Default { get; } = defaultValue;
    public override Type ValueType => typeof(T);
    public override object? DefaultValue => Default;

    public override string? Problem(object? value) => value is T typed ? check?.Invoke(typed) : value is null && Default is null ? null
        : $"expected a {typeof(T).Name}, got {value ?? "nothing"}";

    /// <summary>The settings' common checks, worded once.</summary>
    public static string? NonNegative(double v) => !(v >= 0) ? "must be 0 or more" : double.IsFinite(v) ? null : "must be finite";
    public static string? Positive(double v) => v > 0 && double.IsFinite(v) ? null : "must be a positive number";
    public static string? ExistingFile(string? path) =>
        path is null ? null : string.IsNullOrWhiteSpace(path) ? "is empty" : File.Exists(path) ? null : $"file not found: {Path.GetFullPath(path)}";
}

/// <summary>A setting's value that a method refuses; the message names the setting, so the CLI can name its flag.</summary>
public sealed class MethodSettingException(string setting, string problem) : Exception($"{setting}: {problem}")
{
    public string Setting { get; } = setting;
    public string Problem { get; } = problem;
}

using System.CommandLine;
using System.Text.RegularExpressions;
using Smile.Methods;
using Smile.Training;

namespace Smile.Cli;

/// <summary>
/// The methods' own settings as flags: one flag per setting of every registered method (same name, help, default),
/// built from the registry, so that a new method's settings reach the command line without any edit here.
/// </summary>
internal sealed class MethodFlags
{
    private readonly List<(MethodSetting Setting, Option Option)> flags = [];

    public MethodFlags()
    {
        foreach (var (setting, methods) in Regularizers.AllSettings())
            flags.Add((setting, Create(setting, $"{setting.Help} [{string.Join(", ", methods)}]")));
    }

    public IEnumerable<Option> Options => flags.Select(f => f.Option);

    /// <summary>The settings' names, which are their flags' names.</summary>
    public IReadOnlySet<string> Names => flags.Select(f => f.Setting.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>The values the user gave (typed), for <see cref="Regularizers.Configure"/>.</summary>
    public MethodValues Read(ParseResult parse)
    {
        var given = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (setting, option) in flags)
            if (parse.GetResult(option) is { Implicit: false } result)
                given[setting.Name] = option switch
                {
                    Option<double> o => parse.GetValue(o),
                    Option<long> o => parse.GetValue(o),
                    Option<int> o => parse.GetValue(o),
                    Option<bool> o => parse.GetValue(o),
                    Option<string> o => parse.GetValue(o),
                    _ => throw new InvalidOperationException($"flag --{setting.Name} has no reader"),
                };
        return new MethodValues(given);
    }

    /// <summary>A method's complaint as a flag error: its setting and every setting named in the message become flags.</summary>
    public static string Describe(MethodSettingException e)
    {
        var names = Regularizers.AllSettings().Select(s => Regex.Escape(s.Setting.Name)).OrderByDescending(n => n.Length);
        var problem = Regex.Replace(e.Problem, $@"(?<![\w-])({string.Join("|", names)})(?![\w])", "--$1");
        return $"--{e.Setting}: {problem}";
    }

    private static Option Create(MethodSetting setting, string help) => setting.DefaultValue switch
    {
        double d => Flags.Make(setting.Name, help, d),
        long l => Flags.Make(setting.Name, help, l),
        int i => Flags.Make(setting.Name, help, i),
        bool b => Flags.Make(setting.Name, help, b),
        string s => Flags.Make(setting.Name, help, s),
        null when setting.ValueType == typeof(string) => Flags.Optional<string>(setting.Name, help),
        _ => throw new InvalidOperationException($"setting '{setting.Name}': type {setting.ValueType.Name} has no flag form"),
    };
}

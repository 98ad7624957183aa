using System.CommandLine;
using System.CommandLine.Help;
using System.Globalization;
using System.Text.Json;

namespace Smile.Cli;

/// <summary>
/// Run configs of `smile finetune` and `smile distill` (`--config FILE`): a JSON object with one key per flag
/// (its snake_case name) and the value the run used, defaults included, paths absolute. A run writes its own
/// ({save}/{name}_{regularizer}_config.json) before training; `--config` reads one back as if its values had been
/// typed as flags, except for the flags given on the command line, which win. The keys are the verb's own flags, read
/// from the command itself, so a flag added to the verb is stored and read without any change here.
/// </summary>
internal static class RunConfig
{
    /// <summary>Flags that steer one session rather than describe the run: never stored, refused in a config.</summary>
    public static readonly IReadOnlySet<string> SessionFlags = new HashSet<string>(StringComparer.Ordinal) { "config", "dry_run", "resume", "stop_after" };

    /// <summary>Flags that may differ when a run is resumed from a config, because they change nothing it computes
    /// (the loader draws the same batches with any number of workers), or because they name the run's _Last itself.</summary>
    private static readonly IReadOnlySet<string> FreeOnResume = new HashSet<string>(StringComparer.Ordinal) { "workers", "print_frequency", "save", "name", "regularizer" };

    public static string Key(Option option) => option.Name.TrimStart('-');

    /// <summary>The verb's flags a config may hold, by key.</summary>
    private static Dictionary<string, Option> ConfigFlags(Command command) =>
        command.Options.Where(o => !o.Recursive && o is not HelpOption and not VersionOption && !SessionFlags.Contains(Key(o)))
            .ToDictionary(Key, StringComparer.Ordinal);

    /// <summary>
    /// With --config FILE: the command line parsed again with the file's values for every flag not given on it, and
    /// the keys taken from the file (with their values as flag text). Without: <paramref name="parse"/> unchanged.
    /// Every key must be a flag of the verb and every value of the flag's type (one line naming key and file otherwise).
    /// </summary>
    public static (ParseResult Parse, IReadOnlyDictionary<string, string> FromFile, string? File) Apply(ParseResult parse, Option<string?> configOption)
    {
        if (parse.GetValue(configOption) is not { } given) return (parse, new Dictionary<string, string>(), null);
        var file = Flags.ExistingFile(given, "config");
        var flags = ConfigFlags(parse.CommandResult.Command);
        var tokens = parse.Tokens.Select(t => t.Value).ToList();
        var fromFile = new Dictionary<string, string>(StringComparer.Ordinal);
        using var document = Read(file);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
            throw new UsageException($"--config: {file} must hold one JSON object of flag names and values, not a {document.RootElement.ValueKind.ToString().ToLowerInvariant()}");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            var key = property.Name;
            if (!seen.Add(key)) throw new UsageException($"--config: {file}: key '{key}' appears twice");
            if (SessionFlags.Contains(key))
                throw new UsageException($"--config: {file}: key '{key}' steers one session, not the run: give --{key} on the command line");
            if (!flags.TryGetValue(key, out var option))
                throw new UsageException($"--config: {file}: unknown key '{key}' (not a flag of `smile {parse.CommandResult.Command.Name}`)");
            var text = Text(property.Value, option, key, file); // checked even when the command line overrides it
            if (text is null || parse.GetResult(option) is { Implicit: false }) continue;
            fromFile[key] = text;
            tokens.Add(option.Name);
            tokens.Add(text);
        }
        // The tokens are already expanded: a value starting with @ is a value here, not a response file.
        var again = parse.RootCommandResult.Command.Parse(tokens, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (again.Errors.Count > 0)
            throw new UsageException($"--config: {file}: {string.Join("; ", again.Errors.Select(e => e.Message.Trim().TrimEnd('.')))}");
        return (again, fromFile, file);
    }

    private static JsonDocument Read(string file)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllText(file), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new UsageException($"--config: {file} is not valid JSON (line {e.LineNumber + 1}: {e.Message.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0].Trim()})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--config: cannot read {file}: {e.Message}");
        }
    }

    /// <summary>The value as the flag's text, after checking its JSON type against the flag's; null: none (the flag's default).</summary>
    private static string? Text(JsonElement value, Option option, string key, string file)
    {
        var type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
        bool nullable = !option.ValueType.IsValueType || type != option.ValueType;
        if (value.ValueKind == JsonValueKind.Null && nullable) return null;
        string? text = type switch
        {
            _ when type == typeof(bool) => value.ValueKind switch { JsonValueKind.True => "true", JsonValueKind.False => "false", _ => null },
            _ when type == typeof(int) => value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int i) ? i.ToString(CultureInfo.InvariantCulture) : null,
            _ when type == typeof(long) => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long l) ? l.ToString(CultureInfo.InvariantCulture) : null,
            _ when type == typeof(double) => value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double d) && double.IsFinite(d) ? d.ToString("R", CultureInfo.InvariantCulture) : null,
            _ when type == typeof(string) => value.ValueKind == JsonValueKind.String ? value.GetString() : null,
            _ => throw new InvalidOperationException($"flag --{key} of type {type.Name} has no config form"),
        };
        if (text is not null) return text;
        string expected = type == typeof(bool) ? "true or false" : type == typeof(int) || type == typeof(long) ? "a whole number"
            : type == typeof(double) ? "a number" : "a string";
        var raw = value.GetRawText();
        throw new UsageException($"--config: {file}: key '{key}' must be {expected}{(nullable ? " or null" : "")}, not {(raw.Length > 40 ? raw[..40] + "..." : raw)}");
    }

    /// <summary>
    /// The run's settings, one per flag of the verb in the verb's order: <paramref name="resolved"/>'s value where the
    /// command resolved one (absolute paths, the method's effective defaults), else the parsed value (given or default).
    /// Flags <paramref name="include"/> rejects (another method's settings) and session flags are left out.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, object?>> Collect(ParseResult parse, IReadOnlyDictionary<string, object?> resolved, Func<string, bool> include) =>
        ConfigFlags(parse.CommandResult.Command)
            .Where(f => include(f.Key))
            .Select(f => KeyValuePair.Create(f.Key, resolved.TryGetValue(f.Key, out var value) ? value : parse.GetResult(f.Value)?.GetValueOrDefault<object?>()))
            .ToList();

    /// <summary>Writes <paramref name="settings"/> as an indented JSON object, atomically.</summary>
    public static void Write(string path, IReadOnlyList<KeyValuePair<string, object?>> settings)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            foreach (var (key, value) in settings)
            {
                json.WritePropertyName(key);
                switch (value)
                {
                    case null: json.WriteNullValue(); break;
                    case bool b: json.WriteBooleanValue(b); break;
                    case int i: json.WriteNumberValue(i); break;
                    case long l: json.WriteNumberValue(l); break;
                    case double d when double.IsFinite(d): json.WriteNumberValue(d); break;
                    case string s: json.WriteStringValue(s); break;
                    default: throw new InvalidOperationException($"setting '{key}': {value} ({value.GetType().Name}) has no JSON form");
                }
            }
            json.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        Smile.IO.AtomicFile.WriteAllBytes(path, buffer.ToArray());
    }

    /// <summary>
    /// `--resume` with `--config`: a value the file supplies (not one given on the command line, which changes the
    /// run on purpose) must be the one the resumed run was started with, as its _Last records; otherwise the file
    /// would change the run silently. Both sides are the checkpoint's text form (<paramref name="now"/>: the resolved
    /// arguments of this session); paths compare as absolute paths.
    /// </summary>
    public static void CheckResume(string file, string lastPath, IReadOnlyDictionary<string, string> now, IEnumerable<string> fromFile)
    {
        if (!File.Exists(lastPath)) return; // the run itself reports a missing _Last
        var before = Smile.Weights.Checkpoint.ReadInfo(lastPath).Arguments;
        var changes = fromFile.Where(key => !FreeOnResume.Contains(key))
            .Where(key => before.TryGetValue(key, out var old) && now.TryGetValue(key, out var current) && !Same(old, current))
            .Select(key => $"{key} {Show(now[key])} (the run has {Show(before[key])})")
            .ToList();
        if (changes.Count > 0)
            throw new UsageException($"--config: {file} would change the run being resumed ({lastPath}): {string.Join("; ", changes)}; " +
                "a resumed run keeps its settings (a flag given on the command line changes one on purpose)");
    }

    private static bool Same(string a, string b) =>
        a == b || (a.Length > 0 && b.Length > 0 && (Path.IsPathRooted(a) || Path.IsPathRooted(b)) && Path.GetFullPath(a) == Path.GetFullPath(b));

    private static string Show(string value) => value.Length == 0 ? "none" : value;
}

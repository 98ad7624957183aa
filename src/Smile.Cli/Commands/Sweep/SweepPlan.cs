using System.CommandLine;
using System.CommandLine.Help;
using System.Text.Json;
using Smile.Sweeps;

namespace Smile.Cli.Commands.Sweep;

/// <summary>
/// A grid's runs as `smile finetune` run configs (RunConfig.cs): every setting must be a flag of `smile finetune`; the
/// sweep owns --save (the run's folder, {output}/{run}) and --name (the run's name), and puts --log_dir in the run's
/// folder unless the grid sets it. Relative paths in a grid are relative to the grid file's folder: the runs start there.
/// </summary>
internal static class SweepPlan
{
    private static readonly string[] Owned = ["save", "name"];

    public static SweepGrid Load(string gridFile)
    {
        if (string.IsNullOrWhiteSpace(gridFile) || !File.Exists(gridFile))
            throw new UsageException($"grid file not found: {Path.GetFullPath(string.IsNullOrWhiteSpace(gridFile) ? "." : gridFile)}");
        var grid = SweepGrid.Load(gridFile);
        var flags = FinetuneCommand.Create().Options.Where(o => o is not HelpOption and not VersionOption)
            .Select(RunConfig.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var key in grid.Runs.SelectMany(r => r.Settings).Select(s => s.Key).Distinct())
        {
            if (Owned.Contains(key)) throw new UsageException($"{grid.File}: key '{key}' is set by the sweep for every run (its folder and name); remove it");
            if (RunConfig.SessionFlags.Contains(key)) throw new UsageException($"{grid.File}: key '{key}' steers one session, not a run; the sweep gives it when needed");
            if (!flags.Contains(key)) throw new UsageException($"{grid.File}: unknown key '{key}' (not a flag of `smile finetune`)");
        }
        return grid;
    }

    public static string Folder(SweepGrid grid, SweepRun run) => Path.Combine(grid.Output, run.Name);

    public static string ConfigPath(SweepGrid grid, SweepRun run) => Path.Combine(Folder(grid, run), SweepRunState.ConfigFile);

    /// <summary>Writes every run's config (rewritten each time, so an edited grid reaches runs not yet started).</summary>
    public static void WriteConfigs(SweepGrid grid)
    {
        foreach (var run in grid.Runs)
        {
            var folder = Folder(grid, run);
            Flags.Writing("grid", folder, () =>
            {
                Directory.CreateDirectory(folder);
                using var buffer = new MemoryStream();
                using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
                {
                    json.WriteStartObject();
                    json.WriteString("name", run.Name);
                    json.WriteString("save", folder);
                    if (!run.Settings.Any(s => s.Key == "log_dir")) json.WriteString("log_dir", Path.Combine(folder, "tb"));
                    foreach (var (key, value) in run.Settings)
                    {
                        json.WritePropertyName(key);
                        value.WriteTo(json);
                    }
                    json.WriteEndObject();
                }
                buffer.WriteByte((byte)'\n');
                Smile.IO.AtomicFile.WriteAllBytes(ConfigPath(grid, run), buffer.ToArray());
            });
        }
    }

    /// <summary>How this process's `smile` is started again: the apphost itself, or `dotnet smile.dll`.</summary>
    public static IReadOnlyList<string> SmileExecutable()
    {
        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "smile") return [self];
        return ["dotnet", Path.Combine(AppContext.BaseDirectory, "smile.dll")];
    }
}

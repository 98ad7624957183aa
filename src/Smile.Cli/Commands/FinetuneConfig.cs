using Smile.Training;

namespace Smile.Cli.Commands;

/// <summary>What the config file of a `finetune` or `distill` run holds beyond the flags' parsed values (RunConfig.cs):
/// the values the command resolved, so that the file reproduces the run from any folder and whatever the defaults.</summary>
internal static class FinetuneConfig
{
    /// <summary>Paths absolute; the method's name as registered, its settings with their defaults (file settings
    /// absolute) and the L2-SP strength it actually uses; --gpu folded into --device.</summary>
    public static Dictionary<string, object?> Resolved(FinetuneOptions o, IRegularizer method, MethodValues values)
    {
        var resolved = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["train_dir"] = o.TrainDir, ["eval_dir"] = o.EvalDir, ["pretrained"] = o.Pretrained,
            ["save"] = Path.GetFullPath(o.Save), ["log_dir"] = Path.GetFullPath(o.LogDir), ["regularizer"] = method.Name,
            ["optimizer"] = o.Optimizer, ["lr_schedule"] = o.LrSchedule, ["select_by"] = o.SelectBy,
            ["l2sp_lambda"] = o.EffectiveL2spLambda(method), ["device"] = o.Device, ["gpu"] = null,
            ["sampler"] = o.Sampler, ["class_weights"] = o.ClassWeights,
        };
        // A run from list files: the lists (and their root and classes file) absolute, and no folder.
        if (o.TrainList is not null) resolved["train_dir"] = null;
        if (o.TrainList is not null || o.EvalList is not null)
        {
            var list = o.TrainList ?? o.EvalList!;
            resolved["train_list"] = Full(o.TrainList?.ListFile);
            resolved["eval_list"] = Full(o.EvalList?.ListFile);
            resolved["data_root"] = Full(list.DataRoot);
            resolved["classes"] = Full(list.ClassesFile);
        }
        // A method's string settings are files or words (MethodSetting.ValueType); a file is stored as an absolute path.
        foreach (var setting in method.Settings)
            resolved[setting.Name] = values.ValueOf(setting) is string file && File.Exists(file) ? Path.GetFullPath(file) : values.ValueOf(setting);
        return resolved;
    }

    private static string? Full(string? path) => path is null ? null : Path.GetFullPath(path);

    /// <summary>Whether the config holds flag <paramref name="key"/>: every flag, except the settings of other methods.</summary>
    public static bool Holds(string key, MethodFlags methodFlags, IRegularizer method) =>
        !methodFlags.Names.Contains(key) || method.Settings.Any(s => s.Name == key);
}

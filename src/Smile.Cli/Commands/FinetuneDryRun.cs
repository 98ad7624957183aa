using System.Globalization;
using Smile.Training;

namespace Smile.Cli.Commands;

/// <summary>
/// `smile finetune ... --dry_run`: the run's checks (<see cref="FinetunePreflight"/>) and the free space its checkpoints
/// need, then what it would do, on stdout; exit 0 without training or writing anything. A problem is the usual one line
/// and exit code 2.
/// </summary>
internal static class FinetuneDryRun
{
    public static int Print(FinetuneOptions o, IRegularizer method, IReadOnlyList<KeyValuePair<string, object?>> settings)
    {
        var plan = FinetunePreflight.Inspect(o, method);
        var save = Path.GetFullPath(o.Save);
        Flags.Require(plan.FreeBytes >= plan.NeededBytes, "save",
            $"{save} has {Size(plan.FreeBytes)} free, the checkpoints need about {Size(plan.NeededBytes)} (_Best {Size(plan.BestBytes)}, _Last {Size(plan.LastBytes)}, and one of them rewritten through a temporary)");

        var c = CultureInfo.InvariantCulture;
        var own = method.Settings.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var lines = new List<string>
        {
            $"Dry run of {o.RunName}: every input checked; nothing trained, nothing written.",
            $"Model: {plan.Architecture}, {plan.Parameters.ToString("N0", c)} parameters{(plan.AuxClasses is { } aux ? $", aux head of {aux} source classes" : "")}, " +
                $"{(o.Pretrained is null ? "freshly initialised" : $"from {o.Pretrained}")}; device {plan.Device}",
            $"Classes ({plan.Classes.Count}): {Listed(plan.Classes.Select(n => n), 20)}",
            $"Training: {plan.TrainImages} images in {o.TrainData.Location} ({Listed(plan.Classes.Zip(plan.TrainCounts, (n, k) => $"{n} {k}"), 10)}); sampler {o.Sampler}",
            plan.EvalImages is { } evalImages
                ? $"Validation: {evalImages} images of {plan.EvalClasses} classes {(o.ValSplit > 0 ? $"held out of the training folder ({o.ValSplit.ToString("P0", c)} per class)" : $"in {o.EvalData?.Location}")}, " +
                  $"every {o.EvalFrequency} iterations and after the last, best by {o.SelectBy}"
                : "Validation: none (the last checkpoint is the result)",
            $"Schedule: {o.MaxIters} iterations{(plan.StartIteration > 0 ? $", resuming after iteration {plan.StartIteration - 1}" : "")}, " +
                $"batch {o.BatchSize}, {plan.BatchesPerEpoch} batch{(plan.BatchesPerEpoch == 1 ? "" : "es")} per epoch ({plan.Epochs(o.MaxIters).ToString("0.##", c)} epochs); " +
                $"{o.Optimizer}, lr {o.Lr.ToString("R", c)} ({o.LrSchedule}), wd {o.Wd.ToString("R", c)}, seed {o.Seed}{(o.StopAfter is { } stop ? $", stopping after {stop}" : "")}",
            $"Protocol: backbone lr {o.BackboneLrRatio.ToString("R", c)} x lr; frozen {(o.Freeze.Count == 0 ? "none" : string.Join(",", o.Freeze))}; " +
                $"training crop {o.TrainCrop}{(o.TrainCrop == "random_resized" ? $" (area {o.TrainCropMinScale.ToString("R", c)} to 1)" : "")}",
            $"Method {method.Name}: {method.Summary}",
            $"  settings: {string.Join(", ", settings.Where(s => own.Contains(s.Key) || s.Key is "cls_lambda" or "l2sp_lambda").Select(s => $"{s.Key} {Show(s.Value)}"))}",
            $"Class weights: {(plan.ClassWeights is { } w ? $"{o.ClassWeights} ({ClassLossWeights.Describe(plan.Classes, w)})" : "none")}",
            $"Checkpoints: _Best about {Size(plan.BestBytes)}, _Last about {Size(plan.LastBytes)}; needs about {Size(plan.NeededBytes)}, {Size(plan.FreeBytes)} free in {save}",
            $"Files: {Path.GetFullPath(o.BestPath)}, {Path.GetFullPath(o.LastPath)}, {Path.GetFullPath(o.LogPath)}, {Path.GetFullPath(o.SummaryPath)}, " +
                $"{Path.GetFullPath(o.ConfigPath)}; TensorBoard {Path.GetFullPath(o.TensorBoardDir)}",
        };
        lines.AddRange(plan.Warnings.Select(w => $"warning: {w}"));
        foreach (var line in lines) Console.WriteLine(line);
        return 0;
    }

    private static string Listed(IEnumerable<string> items, int most)
    {
        var all = items.ToList();
        return string.Join(", ", all.Take(most)) + (all.Count > most ? $", ... ({all.Count - most} more)" : "");
    }

    private static string Show(object? value) => value is null ? "none" : Smile.Training.MethodSetting.Format(value);

    private static string Size(long bytes) => bytes >= 1L << 30
        ? $"{(bytes / (double)(1L << 30)).ToString("F1", CultureInfo.InvariantCulture)} GiB"
        : $"{(bytes / (double)(1L << 20)).ToString("F1", CultureInfo.InvariantCulture)} MiB";
}

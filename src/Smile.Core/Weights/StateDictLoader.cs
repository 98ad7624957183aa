using TorchSharp;

namespace Smile.Weights;

/// <summary>What <see cref="StateDictLoader.Load"/> did: the names it copied, and every name on either side
/// (file or model) that it did not (skipped by prefix, or unmatched when not strict).</summary>
public sealed record LoadReport(IReadOnlyList<string> Loaded, IReadOnlyList<string> Skipped);

/// <summary>Copies a state dict into a module's parameters and buffers by name, like PyTorch's
/// load_state_dict, but reporting every mismatch at once so one run tells the user all that is wrong.</summary>
public static class StateDictLoader
{
    private const int MaxNamesListed = 20;

    /// <param name="module">The model; its state_dict() (parameters and persistent buffers) is the target.</param>
    /// <param name="stateDict">The file's tensors; converted to each target's dtype and device.</param>
    /// <param name="sourceName">Names the source in errors (usually the file path).</param>
    /// <param name="skipPrefixes">Names starting with one of these (a new head, "fc.") are ignored on both sides.</param>
    /// <param name="strict">When false, unmatched names are only reported; shape mismatches still throw.</param>
    /// <exception cref="WeightFileException">All problems, in one message; nothing has been copied then.</exception>
    public static LoadReport Load(torch.nn.Module module, IReadOnlyDictionary<string, torch.Tensor> stateDict, string sourceName,
        IEnumerable<string>? skipPrefixes = null, bool strict = true)
    {
        var prefixes = skipPrefixes?.Where(p => p.Length > 0).ToArray() ?? [];
        bool IsSkipped(string name) => prefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal));

        var targets = module.state_dict();
        var skipped = targets.Keys.Where(IsSkipped).Concat(stateDict.Keys.Where(IsSkipped)).Distinct().ToList();
        var missing = targets.Keys.Where(k => !IsSkipped(k) && !stateDict.ContainsKey(k)).ToList();
        var unexpected = stateDict.Keys.Where(k => !IsSkipped(k) && !targets.ContainsKey(k)).ToList();
        var matched = targets.Keys.Where(k => !IsSkipped(k) && stateDict.ContainsKey(k)).ToList();
        var mismatched = matched
            .Where(k => !stateDict[k].shape.SequenceEqual(targets[k].shape))
            .Select(k => $"{k} (file {Shape(stateDict[k])}, model {Shape(targets[k])})")
            .ToList();

        // Everything is checked before anything is copied, so a failed load leaves the model as it was.
        var problems = new List<string>();
        if (strict && missing.Count > 0) problems.Add($"{missing.Count} missing (in model, not in file): {List(missing)}");
        if (strict && unexpected.Count > 0) problems.Add($"{unexpected.Count} unexpected (in file, not in model): {List(unexpected)}");
        if (mismatched.Count > 0) problems.Add($"{mismatched.Count} with a different shape: {List(mismatched)}");
        if (problems.Count > 0)
            throw new WeightFileException(sourceName, $"state dict does not match the model: {string.Join("; ", problems)}");

        using (torch.no_grad())
        {
            // copy_ converts dtype (float16 file into a float32 model) and device (CPU file into a GPU model).
            foreach (var name in matched) targets[name].copy_(stateDict[name]);
        }
        return new LoadReport(matched, skipped.Concat(missing).Concat(unexpected).Distinct().ToList());
    }

    private static string Shape(torch.Tensor tensor) => $"[{string.Join(", ", tensor.shape)}]";

    /// <summary>One line however many names there are.</summary>
    private static string List(List<string> names) =>
        names.Count <= MaxNamesListed
            ? string.Join(", ", names)
            : $"{string.Join(", ", names.Take(MaxNamesListed))} and {names.Count - MaxNamesListed} more";
}

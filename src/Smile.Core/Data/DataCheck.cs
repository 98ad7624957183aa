using System.Collections.Concurrent;

namespace Smile.Data;

/// <summary>What `smile check-data` finds in a folder: images per class, unreadable files, image sizes, and the
/// folder reader's warnings (broken or cyclic symlinks, skipped as training skips them).</summary>
public sealed record DataCheckReport(
    string Root,
    IReadOnlyList<(string Class, int Images)> ClassCounts,
    IReadOnlyList<(string Path, string Reason)> Unreadable,
    IReadOnlyList<(int Width, int Height)> Sizes,
    IReadOnlyList<string> Warnings)
{
    public int Total => ClassCounts.Sum(c => c.Images);
    public bool Ok => Unreadable.Count == 0;

    /// <summary>The p-th percentile (0..100) of widths or heights, nearest rank.</summary>
    public int Percentile(Func<(int Width, int Height), int> pick, double p)
    {
        if (Sizes.Count == 0) return 0;
        var sorted = Sizes.Select(pick).Order().ToArray();
        int rank = (int)Math.Ceiling(p / 100.0 * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }
}

/// <summary>Decodes every image of an ImageFolder in parallel, so bad files are found before a run, not during it.</summary>
public static class DataCheck
{
    public static DataCheckReport Run(string root, int workers = 0, IProgress<int>? progress = null) =>
        Run(ImageFolder.ForTraining(root), workers, progress);

    /// <summary>As the other overload, for a dataset read from a folder or a list (<see cref="DatasetSource"/>).</summary>
    public static DataCheckReport Run(ImageFolder folder, int workers = 0, IProgress<int>? progress = null)
    {
        var bad = new ConcurrentBag<(string, string)>();
        var sizes = new ConcurrentBag<(int, int)>();
        int done = 0;
        Parallel.ForEach(folder.Samples, new ParallelOptions { MaxDegreeOfParallelism = workers > 0 ? workers : Environment.ProcessorCount }, sample =>
        {
            try
            {
                var image = ImageDecoder.Decode(sample.Path);
                sizes.Add((image.Width, image.Height));
            }
            catch (DataException e)
            {
                bad.Add((sample.Path, e.Message));
            }
            int n = Interlocked.Increment(ref done);
            if (n % 256 == 0) progress?.Report(n);
        });
        var counts = folder.Classes.Select((name, label) => (name, folder.CountOf(label))).ToArray();
        return new DataCheckReport(folder.Root, counts, bad.OrderBy(b => b.Item1, StringComparer.Ordinal).ToArray(), sizes.ToArray(),
            folder.Warnings);
    }
}

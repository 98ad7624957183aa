using Smile.IO;
using Smile.Native;

namespace Smile.Data.Prepare;

/// <summary>How a preparation went: images written per kind, and those already in place.</summary>
public sealed record PrepareResult(int Linked, int Copied, int Generated, int Unchanged, IReadOnlyList<(string Split, int Classes, int Images)> Counts);

/// <summary>
/// Writes an <see cref="ImageFolderPlan"/> under an output folder. Idempotent: an image already in place with
/// the same content is left alone, so a second run changes nothing and an interrupted run resumes. Every file
/// appears atomically (written or linked under a temporary name, then renamed), so a crash never leaves a
/// half-written image. A split folder that holds images the plan would not write is refused rather than
/// silently mixed in (an earlier run with other options would otherwise change the data set unnoticed).
/// </summary>
public static class ImageFolderWriter
{
    public static PrepareResult Write(ImageFolderPlan plan, string outputRoot, Action<int, int>? progress = null)
    {
        if (plan.Images.Count == 0) throw new DataException("the preparation found no images to write");
        outputRoot = Path.GetFullPath(outputRoot);
        // Every source is checked before anything is written: a wrong --src fails with nothing changed.
        var missing = plan.Images.FirstOrDefault(i => i.SourcePath is { } p && !File.Exists(p));
        if (missing != null) throw new DataException($"image listed by the dataset's index is missing: {missing.SourcePath}");
        RefuseForeignFiles(plan, outputRoot);
        foreach (var folder in plan.Images.Select(i => Path.Combine(outputRoot, i.Split, i.ClassName)).Distinct())
            Directory.CreateDirectory(folder);

        int linked = 0, copied = 0, generated = 0, unchanged = 0, done = 0;
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Environment.ProcessorCount) };
        try
        {
            Parallel.ForEach(plan.Images, options, image =>
            {
                var outcome = WriteOne(image, Path.Combine(outputRoot, image.Split, image.ClassName, image.FileName));
                switch (outcome)
                {
                    case Outcome.Linked: Interlocked.Increment(ref linked); break;
                    case Outcome.Copied: Interlocked.Increment(ref copied); break;
                    case Outcome.Generated: Interlocked.Increment(ref generated); break;
                    default: Interlocked.Increment(ref unchanged); break;
                }
                int now = Interlocked.Increment(ref done);
                if (progress != null && (now % 500 == 0 || now == plan.Images.Count)) progress(now, plan.Images.Count);
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.FirstOrDefault(x => x is DataException) is { } first)
        {
            throw first; // a bad image as one line, not wrapped by the parallel loop
        }
        return new PrepareResult(linked, copied, generated, unchanged, plan.Counts());
    }

    private enum Outcome { Linked, Copied, Generated, Unchanged }

    private static Outcome WriteOne(PlannedImage image, string destination)
    {
        if (image.SourcePath is { } source)
        {
            if (!File.Exists(source)) throw new DataException($"image listed by the dataset's index is missing: {source}");
            if (File.Exists(destination) && SameFile(source, destination)) return Outcome.Unchanged;
            bool link = false;
            AtomicFile.Replace(destination, temporary =>
            {
                link = LibC.Link(source, temporary) == 0;
                if (!link)
                {
                    File.Copy(source, temporary, overwrite: true);
                    // The quick check of a later run (size and modification time) then recognises the copy.
                    File.SetLastWriteTimeUtc(temporary, File.GetLastWriteTimeUtc(source));
                }
            });
            return link ? Outcome.Linked : Outcome.Copied;
        }

        byte[] bytes = image.Produce!();
        if (File.Exists(destination) && new FileInfo(destination).Length == bytes.Length && File.ReadAllBytes(destination).AsSpan().SequenceEqual(bytes))
            return Outcome.Unchanged;
        AtomicFile.Write(destination, file => file.Write(bytes));
        return Outcome.Generated;
    }

    // rsync's quick check (a hard link shares size and time with its source; a copy is given the source's
    // time), then the bytes when the check is inconclusive.
    private static bool SameFile(string source, string destination)
    {
        var a = new FileInfo(source);
        var b = new FileInfo(destination);
        if (a.Length != b.Length) return false;
        if (a.LastWriteTimeUtc == b.LastWriteTimeUtc) return true;
        return File.ReadAllBytes(source).AsSpan().SequenceEqual(File.ReadAllBytes(destination));
    }

    private static void RefuseForeignFiles(ImageFolderPlan plan, string outputRoot)
    {
        var planned = plan.Images.Select(i => i.RelativePath).ToHashSet(StringComparer.Ordinal);
        foreach (var split in plan.Images.Select(i => i.Split).Distinct())
        {
            string folder = Path.Combine(outputRoot, split);
            if (!Directory.Exists(folder)) continue;
            var foreign = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(outputRoot, f).Replace('\\', '/'))
                .Where(f => !Path.GetFileName(f).StartsWith('.') && !AtomicFile.IsTemporary(f) && !planned.Contains(f))
                .ToList();
            if (foreign.Count > 0)
                throw new DataException($"{folder} already holds {foreign.Count} file(s) this preparation would not write " +
                    $"(e.g. {foreign[0]}), perhaps from a run with other options; remove it or choose another `out`");
        }
    }
}

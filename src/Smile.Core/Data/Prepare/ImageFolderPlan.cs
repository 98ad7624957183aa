namespace Smile.Data.Prepare;

/// <summary>
/// What a `smile prepare` layout will write: for each split ("train", "test", "base/train", ...) and class, the image files,
/// each either an existing file (hard-linked where the file system allows, else copied) or bytes produced on
/// demand (a decoded idx record, a cropped image). A reader of an official layout fills the plan and checks
/// its sources; <see cref="ImageFolderWriter"/> then writes it, idempotently.
/// </summary>
public sealed class ImageFolderPlan
{
    private readonly List<PlannedImage> _images = [];
    private readonly HashSet<string> _targets = new(StringComparer.Ordinal);

    public IReadOnlyList<PlannedImage> Images => _images;

    /// <summary>An existing image file that appears in the output under <paramref name="fileName"/>.</summary>
    public void AddFile(string split, string className, string fileName, string sourcePath) =>
        Add(new PlannedImage(split, className, fileName, sourcePath, null));

    /// <summary>An image whose bytes are produced when written (called at most once, possibly on a worker thread).</summary>
    public void AddGenerated(string split, string className, string fileName, Func<byte[]> produce) =>
        Add(new PlannedImage(split, className, fileName, null, produce));

    private void Add(PlannedImage image)
    {
        // A split may be a path of folders ("base/train" of the weak-shot layouts), each a plain name.
        foreach (string part in image.Split.Split('/')) CheckName(part, "split");
        CheckName(image.ClassName, "class name");
        CheckName(image.FileName, "file name");
        if (!_targets.Add(image.RelativePath))
            throw new DataException($"two images of the preparation would be written to the same file: {image.RelativePath}");
        _images.Add(image);
    }

    // A class name becomes a folder name: it must not escape the output folder or be empty.
    private static void CheckName(string name, string what)
    {
        if (string.IsNullOrWhiteSpace(name) || name is "." or ".." || name.Contains('/') || name.Contains('\0'))
            throw new DataException($"invalid {what} for a folder entry: '{name}'");
    }

    /// <summary>Per split, the number of classes and images (sorted by split name).</summary>
    public IReadOnlyList<(string Split, int Classes, int Images)> Counts() =>
        _images.GroupBy(i => i.Split).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (g.Key, g.Select(i => i.ClassName).Distinct().Count(), g.Count())).ToList();
}

/// <summary>One output image of a plan: <c>Split/ClassName/FileName</c>, from a file or from bytes.</summary>
public sealed record PlannedImage(string Split, string ClassName, string FileName, string? SourcePath, Func<byte[]>? Produce)
{
    public string RelativePath => $"{Split}/{ClassName}/{FileName}";
}

using System.Collections.Frozen;

namespace Smile.Data;

/// <summary>One image of a dataset folder: its path (as reached from the root, symlinks not resolved) and class index.</summary>
public sealed record ImageSample(string Path, int Label);

/// <summary>
/// A dataset laid out the torchvision <c>ImageFolder</c> way: one subfolder per class under the root, images anywhere
/// below each class folder. Classes are sorted ordinally (as Python's <c>sorted()</c> does), so the label of a class
/// is the same here as in a PyTorch script reading the same folder.
/// </summary>
public sealed class ImageFolder
{
    public static readonly IReadOnlySet<string> ImageExtensions =
        new[] { ".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif" }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    // Deeper than this a chain of symlinks is surely a cycle (Linux gives up at 40 too: ELOOP).
    private const int MaxLinkHops = 40;

    private readonly int[] _counts;

    public string Root { get; }
    /// <summary>Class names; the index of a name is its label.</summary>
    public IReadOnlyList<string> Classes { get; }
    /// <summary>Sorted by label, then by path (ordinal), so the order does not depend on the file system.</summary>
    public IReadOnlyList<ImageSample> Samples { get; }
    public IReadOnlyList<string> Warnings { get; }

    private ImageFolder(string root, IReadOnlyList<string> classes, List<ImageSample> samples, List<string> warnings)
    {
        samples.Sort((a, b) => a.Label != b.Label ? a.Label.CompareTo(b.Label) : string.CompareOrdinal(a.Path, b.Path));
        _counts = new int[classes.Count];
        foreach (var s in samples) _counts[s.Label]++;
        Root = root;
        Classes = classes;
        Samples = samples;
        Warnings = warnings;
    }

    /// <summary>A folder of some of this folder's samples (same root and classes), e.g. one side of a validation split.</summary>
    public ImageFolder Subset(IEnumerable<ImageSample> samples) => new(Root, Classes, samples.ToList(), []);

    /// <summary>A dataset whose samples were found elsewhere (an image list, <see cref="ImageListSource"/>): <paramref name="root"/>
    /// names where they came from; the samples are sorted as a folder's, so the same images give the same order.</summary>
    internal static ImageFolder FromSamples(string root, IReadOnlyList<string> classes, IEnumerable<ImageSample> samples) =>
        new(root, classes, samples.ToList(), []);

    public int CountOf(int label) =>
        (uint)label < (uint)_counts.Length ? _counts[label] : throw new ArgumentOutOfRangeException(nameof(label), $"label {label} is not in 0..{_counts.Length - 1}");

    /// <summary>A training folder: its subfolders are the classes, and every one of them must hold images.</summary>
    public static ImageFolder ForTraining(string root)
    {
        var (fullRoot, folders) = ClassFolders(root);
        var classes = folders.Select(Path.GetFileName).Cast<string>().Order(StringComparer.Ordinal).ToList();
        var samples = new List<ImageSample>();
        var warnings = new List<string>();
        for (int label = 0; label < classes.Count; label++)
        {
            var folder = Path.Combine(fullRoot, classes[label]);
            int before = samples.Count;
            foreach (var path in FindImages(folder, warnings)) samples.Add(new ImageSample(path, label));
            // A class with no examples cannot be learnt, and would silently shift nothing but confuse the accuracy report.
            if (samples.Count == before) throw new DataException($"{folder}: class '{classes[label]}' has no images ({ExtensionList})");
        }
        return new ImageFolder(fullRoot, classes, samples, warnings);
    }

    /// <summary>
    /// An evaluation folder read against the model's class list: a subfolder's label is the index of its name in
    /// <paramref name="classes"/> (not its position on disk), classes may be missing, unknown ones are an error.
    /// </summary>
    public static ImageFolder ForEvaluation(string root, IReadOnlyList<string> classes)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < classes.Count; i++)
            if (!index.TryAdd(classes[i], i)) throw new ArgumentException($"class '{classes[i]}' appears twice in the class list", nameof(classes));

        var (fullRoot, folders) = ClassFolders(root);
        var samples = new List<ImageSample>();
        var warnings = new List<string>();
        foreach (var folder in folders.Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(folder);
            if (!index.TryGetValue(name, out int label))
            {
                var near = classes.FirstOrDefault(c => string.Equals(c, name, StringComparison.OrdinalIgnoreCase));
                var hint = near is null ? "" : $" (did you mean '{near}'? class names are case-sensitive)";
                throw new DataException($"{fullRoot}: class '{name}' is not one of the model's {classes.Count} classes{hint}");
            }
            int before = samples.Count;
            foreach (var path in FindImages(folder, warnings)) samples.Add(new ImageSample(path, label));
            // At evaluation an empty class only means fewer images to score: worth telling, not worth stopping for.
            if (samples.Count == before) warnings.Add($"{folder}: class '{name}' has no images ({ExtensionList})");
        }
        if (samples.Count == 0) throw new DataException($"{fullRoot}: no images in any class folder ({ExtensionList})");
        return new ImageFolder(fullRoot, classes, samples, warnings);
    }

    /// <summary>
    /// Every image anywhere below <paramref name="folder"/>, sorted ordinally, with no class structure (what
    /// `smile predict` reads), walked as a dataset folder is: symlinks followed, each real directory entered once
    /// (so a link to "." or to an ancestor neither repeats images nor loops), broken or cyclic file links skipped
    /// and described in the warnings.
    /// </summary>
    public static (IReadOnlyList<string> Images, IReadOnlyList<string> Warnings) ImagesBelow(string folder)
    {
        if (!Directory.Exists(folder)) throw new DataException($"{Path.GetFullPath(folder)}: folder does not exist");
        var warnings = new List<string>();
        var images = FindImages(folder, warnings);
        images.Sort(StringComparer.Ordinal);
        return (images, warnings);
    }

    private static string ExtensionList => "looked for " + string.Join(", ", ImageExtensions.Order(StringComparer.Ordinal));

    /// <summary>The root's full path and its non-hidden subfolders (symlinked ones included), or a DataException.</summary>
    private static (string Root, List<string> Folders) ClassFolders(string root)
    {
        var fullRoot = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        if (!Directory.Exists(fullRoot))
            throw new DataException(File.Exists(fullRoot) ? $"{fullRoot}: is a file, not a dataset folder" : $"{fullRoot}: dataset folder does not exist");
        var entries = List(fullRoot);
        // Directory.Exists follows symlinks, so a class folder may be a link to a folder elsewhere.
        var folders = entries.Where(e => !IsHidden(e) && Directory.Exists(e)).ToList();
        if (folders.Count == 0)
        {
            int files = entries.Count(e => !IsHidden(e) && File.Exists(e));
            var found = files == 0 ? "the folder is empty" : $"found {files} files but no subfolders";
            throw new DataException($"{fullRoot}: no class folders ({found}; expected one subfolder per class holding its images)");
        }
        return (fullRoot, folders);
    }

    /// <summary>
    /// Image files anywhere below <paramref name="folder"/>, following symlinks to files and folders. Each real directory
    /// is entered once, which both stops symlink cycles and avoids counting an image twice when two links lead to it.
    /// </summary>
    private static List<string> FindImages(string folder, List<string> warnings)
    {
        var images = new List<string>();
        var visited = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<(string Path, string RealPath)>();
        pending.Push((folder, RealPath(folder)));
        while (pending.Count > 0)
        {
            var (dir, realDir) = pending.Pop();
            if (!visited.Add(realDir))
            {
                warnings.Add($"{dir}: leads to a folder already read ({realDir}; a symlink cycle or a second link to it), skipped");
                continue;
            }
            foreach (var entry in List(dir))
            {
                if (IsHidden(entry)) continue; // .DS_Store, ._photo.jpg (macOS resource forks), .ipynb_checkpoints, ...
                if (Directory.Exists(entry))
                {
                    // Only a link needs resolving; a plain subfolder's real path is its real parent's plus its name.
                    var real = IsLink(entry) ? RealPath(entry) : Path.Combine(realDir, Path.GetFileName(entry));
                    pending.Push((entry, real));
                }
                else if (ImageExtensions.Contains(Path.GetExtension(entry)))
                {
                    var link = IsLink(entry) ? FileLinkState(entry) : LinkState.Resolves;
                    if (link == LinkState.Resolves) images.Add(entry);
                    else warnings.Add($"{entry}: broken symlink{(link == LinkState.Cycle ? " (a cycle of links)" : "")}, skipped");
                }
            }
        }
        return images;
    }

    private static bool IsHidden(string path) => Path.GetFileName(path).StartsWith('.');

    private static bool IsLink(string path) => new FileInfo(path).LinkTarget is not null;

    private enum LinkState { Resolves, Dangling, Cycle }

    /// <summary>
    /// Whether a symlink ends at an existing file. File.Exists cannot tell: .NET reports a dangling or cyclic link as an
    /// existing file (it falls back to the link itself), which would only fail later, when the image is decoded.
    /// </summary>
    private static LinkState FileLinkState(string path)
    {
        try { return File.ResolveLinkTarget(path, returnFinalTarget: true) is { Exists: true } ? LinkState.Resolves : LinkState.Dangling; }
        catch (IOException) { return LinkState.Cycle; } // too many levels of symbolic links
    }

    private static List<string> List(string dir)
    {
        try { return Directory.EnumerateFileSystemEntries(dir).ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataException($"{dir}: cannot list the folder ({e.Message})");
        }
    }

    /// <summary>
    /// The path with every symlink resolved, in any component (what realpath(3) gives), computed in managed code so that
    /// it works on every OS .NET runs on. Two paths name the same directory exactly when their real paths are equal.
    /// </summary>
    private static string RealPath(string path, int hops = 0)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        var parent = Path.GetDirectoryName(full);
        if (parent is null) return full; // the file system root
        var realParent = RealPath(parent, hops);
        var candidate = Path.Combine(realParent, Path.GetFileName(full));
        var target = new FileInfo(candidate).LinkTarget;
        if (target is null) return candidate;
        if (hops >= MaxLinkHops) throw new DataException($"{path}: too many levels of symbolic links");
        return RealPath(Path.Combine(realParent, target), hops + 1); // Combine keeps an absolute target as is
    }
}

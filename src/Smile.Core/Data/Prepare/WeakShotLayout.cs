namespace Smile.Data.Prepare;

/// <summary>
/// The data of weak-shot learning (docs/METHODS.md, "SimTrans") from a prepared data set (train/ and test/
/// ImageFolders, as `smile prepare cub` writes them), a base/novel class split and a folder of web images per
/// novel class: base/train and base/test (the base classes' clean images), web/&lt;novel class&gt; (the web
/// images, less the copies of test images) and novel_test/&lt;novel class&gt; (the novel classes' test images).
/// Images are linked, never re-encoded.
/// </summary>
public static class WeakShotLayout
{
    public const string DroppedFile = "dropped_duplicates.csv";
    public const string UnreadableFile = "unreadable_web_images.csv";

    public sealed record Options(string Source, string BaseClassesFile, string NovelClassesFile, string WebFolder, int MaxHashDistance);

    /// <summary>The plan and what the de-duplication found; <see cref="WebImages"/> per novel class before it.</summary>
    public sealed record Preparation(
        ImageFolderPlan Plan,
        IReadOnlyList<string> NovelClasses,
        IReadOnlyDictionary<string, int> WebImages,
        IReadOnlyList<DroppedDuplicate> Dropped,
        IReadOnlyList<UnreadableImage> Unreadable,
        IReadOnlyList<string> UnusedClasses,
        IReadOnlyList<string> Warnings);

    public static Preparation Plan(Options options, Action<int, int>? hashProgress = null)
    {
        string trainFolder = Path.Combine(options.Source, "train"), testFolder = Path.Combine(options.Source, "test");
        var train = ImageFolder.ForTraining(trainFolder);
        var test = ImageFolder.ForTraining(testFolder);
        var baseList = ClassListFile.Read(options.BaseClassesFile);
        var novelList = ClassListFile.Read(options.NovelClassesFile);
        baseList.RequireAllIn(train.Classes, train.Root);
        novelList.RequireAllIn(train.Classes, train.Root);
        foreach (var name in novelList.Names)
            if (baseList.Contains(name))
                throw novelList.Error(name, $"class '{name}' is also a base class ({baseList.Path}:{baseList.LineOf(name)})");

        foreach (var name in novelList.Names)
            if (!test.Classes.Contains(name))
                throw novelList.Error(name, $"novel class '{name}' has no test images in {test.Root}");
        var web = WebImages(options.WebFolder, novelList);

        var plan = new ImageFolderPlan();
        var warnings = train.Warnings.Concat(test.Warnings).ToList();
        foreach (var name in baseList.Names)
        {
            AddClass(plan, "base/train", train, name);
            if (test.Classes.Contains(name)) AddClass(plan, "base/test", test, name);
            else warnings.Add($"{test.Root}: base class '{name}' has no test images");
        }
        foreach (var name in novelList.Names) AddClass(plan, "novel_test", test, name);

        // Against the whole test split, not only the novel classes' (docs/METHODS.md, "Data": any test image, base or
        // novel): a copy of a base test image under a novel label is an outlier at best, and it would put a base
        // test image into training (the adversarial SimNet step sees the web images; an evaluation over all
        // classes, or another base/novel split of the same data, would test on it). Hashing them costs little.
        var samples = web.Samples.Select(s => (web.Classes[s.Label], s.Path)).ToList();
        var found = TestDuplicates.Find(test.Samples.Select(s => s.Path).ToList(), samples, options.MaxHashDistance, hashProgress);
        foreach (var (name, path) in found.Kept)
            plan.AddFile("web", name, FlatName(Path.Combine(web.Root, name), path), path);
        var counts = novelList.Names.ToDictionary(n => n, n => web.CountOf(LabelOf(web, n)), StringComparer.Ordinal);
        var kept = found.Kept.Select(k => k.ClassName).ToHashSet(StringComparer.Ordinal);
        foreach (var name in novelList.Names)
            if (!kept.Contains(name))
                throw new DataException($"{Path.Combine(web.Root, name)}: none of the {counts[name]} web images is left " +
                    "after removing the copies of test images and the unreadable files");

        var unused = train.Classes.Where(c => !baseList.Contains(c) && !novelList.Contains(c)).ToList();
        warnings.AddRange(web.Warnings);
        return new Preparation(plan, novelList.Names, counts, found.Dropped, found.Unreadable, unused, warnings);
    }

    /// <summary>The reports beside the folders: every dropped web image with its test image, and every unreadable one.</summary>
    public static void WriteReports(Preparation preparation, string outputRoot)
    {
        Csv.Write(Path.Combine(outputRoot, DroppedFile), ["class", "web_path", "test_path", "distance"],
            preparation.Dropped.Select(d => new[] { d.ClassName, d.WebPath, d.TestPath, d.Distance.ToString() }));
        Csv.Write(Path.Combine(outputRoot, UnreadableFile), ["class", "web_path", "reason"],
            preparation.Unreadable.Select(u => new[] { u.ClassName, u.WebPath, u.Reason }));
    }

    /// <summary>
    /// The web folder, one subfolder per novel class. A folder for a class not in the novel list is an error,
    /// not a warning: it means the list and the crawl disagree (another split's list, a typo on either side), and
    /// going on would run the experiment on other classes than the web data was gathered for. A subset of the
    /// classes is chosen with a folder of links to the wanted web folders.
    /// </summary>
    private static ImageFolder WebImages(string folder, ClassListFile novel)
    {
        var web = ImageFolder.ForTraining(folder);
        foreach (var name in novel.Names)
            if (!web.Classes.Contains(name))
                throw novel.Error(name, $"novel class '{name}' has no web folder {Path.Combine(web.Root, name)}");
        foreach (var name in web.Classes)
            if (!novel.Contains(name))
                throw new DataException($"{Path.Combine(web.Root, name)}: web folder of '{name}', which is not a novel class of {novel.Path}");
        return web;
    }

    private static void AddClass(ImageFolderPlan plan, string split, ImageFolder folder, string name)
    {
        int label = LabelOf(folder, name);
        string classFolder = Path.Combine(folder.Root, name);
        foreach (var sample in folder.Samples.Where(s => s.Label == label))
            plan.AddFile(split, name, FlatName(classFolder, sample.Path), sample.Path);
    }

    private static int LabelOf(ImageFolder folder, string name)
    {
        for (int label = 0; label < folder.Classes.Count; label++)
            if (folder.Classes[label] == name) return label;
        throw new ArgumentException($"'{name}' is not a class of {folder.Root}", nameof(name));
    }

    // An image in a subfolder of its class keeps the subfolder in its name ("a/b.jpg" becomes "a_b.jpg"), because
    // the output class folders are flat; a clash of two such names is reported by the plan.
    private static string FlatName(string classFolder, string path) =>
        Path.GetRelativePath(classFolder, path).Replace(Path.DirectorySeparatorChar, '_').Replace('/', '_');
}

using Smile.Data;

namespace Smile.Tests.Data;

/// <summary>Dataset folders built in a fresh temporary directory per test (xunit makes one instance per test).</summary>
public sealed class ImageFolderTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("smile-folder-");
    private string Root => Path.Combine(_temp.FullName, "data");

    public void Dispose() => _temp.Delete(recursive: true); // deletes links, not what they point to

    /// <summary>Creates an (empty) file below the root; ImageFolder looks at names only, it never decodes.</summary>
    private string Touch(string relative)
    {
        var path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, [1, 2, 3]);
        return path;
    }

    private static string[] Relative(ImageFolder folder) =>
        folder.Samples.Select(s => Path.GetRelativePath(folder.Root, s.Path).Replace('\\', '/')).ToArray();

    [Fact]
    public void ClassesAreSortedOrdinallyLikePythonSorted()
    {
        foreach (var name in new[] { "a", "B", "9", "10", "_x" }) Touch($"{name}/img.jpg");
        var folder = ImageFolder.ForTraining(Root);
        // Not culture order ("10" < "9" < "_x" < "a" < "B") nor numeric order: byte order, as Python's sorted().
        Assert.Equal(["10", "9", "B", "_x", "a"], folder.Classes);
        Assert.Equal(["10/img.jpg", "9/img.jpg", "B/img.jpg", "_x/img.jpg", "a/img.jpg"], Relative(folder));
        Assert.Equal([0, 1, 2, 3, 4], folder.Samples.Select(s => s.Label));
        Assert.Equal(Path.GetFullPath(Root), folder.Root);
        Assert.Empty(folder.Warnings);
    }

    [Fact]
    public void FindsImagesInNestedSubfoldersSortedByPath()
    {
        Touch("owl/z.jpg");
        Touch("owl/2019/b.jpg");
        Touch("owl/2019/deep/er/a.jpg");
        Touch("wren/x.jpg");
        var folder = ImageFolder.ForTraining(Root);
        Assert.Equal(["owl/2019/b.jpg", "owl/2019/deep/er/a.jpg", "owl/z.jpg", "wren/x.jpg"], Relative(folder));
        Assert.Equal(3, folder.CountOf(0));
        Assert.Equal(1, folder.CountOf(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => folder.CountOf(2));
    }

    [Fact]
    public void MatchesExtensionsCaseInsensitivelyAndIgnoresOtherAndHiddenFiles()
    {
        string[] images = ["c/a.JPG", "c/b.Png", "c/c.jpeg", "c/d.bmp", "c/e.WebP", "c/f.gif", "c/g.JPEG"];
        foreach (var f in images) Touch(f);
        // Not images: other extensions, extension-like names, hidden files (macOS "._" resource forks) and hidden folders.
        foreach (var f in new[] { "c/notes.txt", "c/labels.json", "c/a.jpg.bak", "c/jpg", "c/noext", "c/.hidden.jpg", "c/._a.JPG", "c/.cache/x.jpg" })
            Touch(f);
        Touch(".git/x.jpg"); // a hidden folder at the root is not a class
        var folder = ImageFolder.ForTraining(Root);
        Assert.Equal(["c"], folder.Classes);
        Assert.Equal(images.Order(StringComparer.Ordinal), Relative(folder));
    }

    [Fact]
    public void FollowsSymlinksToFilesAndFolders()
    {
        var outside = Path.Combine(_temp.FullName, "elsewhere");
        Directory.CreateDirectory(Path.Combine(outside, "more"));
        File.WriteAllBytes(Path.Combine(outside, "single.png"), [1]);
        File.WriteAllBytes(Path.Combine(outside, "more", "m1.jpg"), [1]);
        File.WriteAllBytes(Path.Combine(outside, "more", "m2.jpg"), [1]);
        Touch("gull/own.jpg");
        File.CreateSymbolicLink(Path.Combine(Root, "gull", "linked.png"), Path.Combine(outside, "single.png"));
        Directory.CreateSymbolicLink(Path.Combine(Root, "gull", "linked_dir"), Path.Combine(outside, "more"));
        // A whole class folder may be a link too.
        Directory.CreateSymbolicLink(Path.Combine(Root, "tern"), Path.Combine(outside, "more"));

        var folder = ImageFolder.ForTraining(Root);
        Assert.Equal(["gull", "tern"], folder.Classes);
        Assert.Equal(["gull/linked.png", "gull/linked_dir/m1.jpg", "gull/linked_dir/m2.jpg", "gull/own.jpg", "tern/m1.jpg", "tern/m2.jpg"], Relative(folder));
    }

    [Fact]
    public async Task SymlinkLoopsDoNotHangOrDuplicateImages()
    {
        Touch("loon/a.jpg");
        Touch("loon/sub/b.jpg");
        Directory.CreateSymbolicLink(Path.Combine(Root, "loon", "sub", "up"), Path.Combine(Root, "loon")); // sub/up -> its own ancestor
        Directory.CreateSymbolicLink(Path.Combine(Root, "loon", "self"), ".");                               // relative link to itself
        Directory.CreateSymbolicLink(Path.Combine(Root, "loon", "again"), Path.Combine(Root, "loon", "sub")); // a second way into sub
        File.CreateSymbolicLink(Path.Combine(Root, "loon", "ping.jpg"), Path.Combine(Root, "loon", "pong.jpg")); // file links in a cycle
        File.CreateSymbolicLink(Path.Combine(Root, "loon", "pong.jpg"), Path.Combine(Root, "loon", "ping.jpg"));

        // A hang fails with a TimeoutException instead of blocking the test run.
        var folder = await Task.Run(() => ImageFolder.ForTraining(Root)).WaitAsync(TimeSpan.FromSeconds(30));
        var found = Relative(folder);
        // Each real directory is entered once, by whichever path reaches it first (the walk is depth-first).
        Assert.Equal(2, found.Length);
        Assert.Contains("loon/a.jpg", found);
        Assert.Single(found, f => f.EndsWith("/b.jpg"));
        // The two cyclic file links are reported (they look like images but cannot be opened), not followed forever.
        Assert.Equal(2, folder.Warnings.Count(w => w.Contains("broken symlink")));
    }

    [Fact]
    public async Task ImagesBelowAFolderWalkLinksToItselfAndToItsParentOnce()
    {
        var top = Path.Combine(Root, "in");
        Touch("in/a.jpg");
        Touch("in/sub/b.PNG");
        Touch("in/notes.txt");
        Directory.CreateSymbolicLink(Path.Combine(top, "self"), ".");                // a link to "."
        Directory.CreateSymbolicLink(Path.Combine(top, "sub", "up"), "..");          // and one back to the top
        File.CreateSymbolicLink(Path.Combine(top, "gone.jpg"), Path.Combine(_temp.FullName, "missing.jpg"));

        var (images, warnings) = await Task.Run(() => ImageFolder.ImagesBelow(top)).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal([Path.Combine(top, "a.jpg"), Path.Combine(top, "sub", "b.PNG")], images);
        Assert.Contains(warnings, w => w.StartsWith(Path.Combine(top, "self") + ": leads to a folder already read", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.StartsWith(Path.Combine(top, "sub", "up") + ": leads to a folder already read", StringComparison.Ordinal));
        Assert.Contains($"{Path.Combine(top, "gone.jpg")}: broken symlink, skipped", warnings);
        Assert.Equal(3, warnings.Count);
    }

    [Fact]
    public void ImagesBelowAMissingFolderIsAnErrorNamingIt()
    {
        var e = Assert.Throws<DataException>(() => ImageFolder.ImagesBelow(Root));
        Assert.Contains(Root, e.Message);
    }

    [Fact]
    public void MissingRootIsAnErrorNamingIt()
    {
        var e = Assert.Throws<DataException>(() => ImageFolder.ForTraining(Root));
        Assert.Contains(Root, e.Message);
        Assert.Contains("does not exist", e.Message);
        Assert.Contains(Root, Assert.Throws<DataException>(() => ImageFolder.ForEvaluation(Root, ["a"])).Message);
    }

    [Fact]
    public void RootThatIsAFileIsAnError()
    {
        Directory.CreateDirectory(_temp.FullName);
        File.WriteAllText(Root, "not a folder");
        var e = Assert.Throws<DataException>(() => ImageFolder.ForTraining(Root));
        Assert.Contains(Root, e.Message);
        Assert.Contains("not a dataset folder", e.Message);
    }

    [Fact]
    public void EmptyRootIsAnError()
    {
        Directory.CreateDirectory(Root);
        var e = Assert.Throws<DataException>(() => ImageFolder.ForTraining(Root));
        Assert.Contains(Root, e.Message);
        Assert.Contains("no class folders", e.Message);
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void RootWithOnlyFilesHasNoClassFolders()
    {
        Touch("a.jpg");
        Touch("b.jpg");
        var e = Assert.Throws<DataException>(() => ImageFolder.ForTraining(Root));
        Assert.Contains(Root, e.Message);
        Assert.Contains("no class folders", e.Message);
        Assert.Contains("2 files", e.Message);
    }

    [Fact]
    public void EmptyClassFolderIsAnErrorAtTraining()
    {
        Touch("crow/a.jpg");
        Directory.CreateDirectory(Path.Combine(Root, "dove"));
        Touch("eagle/readme.txt"); // only non-images: just as empty
        var e = Assert.Throws<DataException>(() => ImageFolder.ForTraining(Root));
        Assert.Contains(Path.Combine(Root, "dove"), e.Message);
        Assert.Contains("no images", e.Message);

        Directory.Delete(Path.Combine(Root, "dove"));
        e = Assert.Throws<DataException>(() => ImageFolder.ForTraining(Root));
        Assert.Contains(Path.Combine(Root, "eagle"), e.Message);
    }

    [Fact]
    public void EvaluationMapsFoldersOntoTheModelClassesByName()
    {
        // On disk: a subset, created in another order than the model's list (whose order is not sorted either).
        Touch("wren/w2.jpg");
        Touch("wren/w1.jpg");
        Touch("auk/a1.jpg");
        Touch("kite/k1.jpg");
        string[] model = ["wren", "kite", "heron", "auk"];
        var folder = ImageFolder.ForEvaluation(Root, model);
        Assert.Equal(model, folder.Classes);
        Assert.Equal(["wren/w1.jpg", "wren/w2.jpg", "kite/k1.jpg", "auk/a1.jpg"], Relative(folder));
        Assert.Equal([0, 0, 1, 3], folder.Samples.Select(s => s.Label));
        Assert.Equal([2, 1, 0, 1], Enumerable.Range(0, 4).Select(folder.CountOf));
        Assert.Empty(folder.Warnings);
    }

    [Fact]
    public void EmptyClassAtEvaluationIsAWarning()
    {
        Touch("wren/w.jpg");
        Directory.CreateDirectory(Path.Combine(Root, "kite"));
        var folder = ImageFolder.ForEvaluation(Root, ["kite", "wren"]);
        Assert.Single(folder.Samples);
        var warning = Assert.Single(folder.Warnings);
        Assert.Contains(Path.Combine(Root, "kite"), warning);
        Assert.Contains("no images", warning);
    }

    [Fact]
    public void UnknownClassAtEvaluationIsAnErrorNamingIt()
    {
        Touch("wren/w.jpg");
        Touch("penguin/p.jpg");
        var e = Assert.Throws<DataException>(() => ImageFolder.ForEvaluation(Root, ["kite", "wren", "auk"]));
        Assert.Contains(Path.GetFullPath(Root), e.Message);
        Assert.Contains("'penguin'", e.Message);
        Assert.Contains("3 classes", e.Message);
    }

    [Fact]
    public void ClassNamesAtEvaluationAreCaseSensitiveWithAHint()
    {
        Touch("Wren/w.jpg");
        var e = Assert.Throws<DataException>(() => ImageFolder.ForEvaluation(Root, ["wren"]));
        Assert.Contains("'Wren'", e.Message);
        Assert.Contains("did you mean 'wren'", e.Message);
    }
}

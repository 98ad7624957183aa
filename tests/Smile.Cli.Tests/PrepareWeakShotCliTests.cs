using Smile.Tests.Data.Prepare;

namespace Smile.Tests.Cli;

/// <summary>`smile prepare weak-shot` and `smile prepare fashion-weak-shot` on the shared fixtures (tests/Shared/Fixtures/): what
/// they print, and every mistake as one line on stderr with exit code 2.</summary>
public sealed class PrepareWeakShotCliTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("smile-prepare-weakshot-cli-").FullName;
    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Output => Path.Combine(_root, "out");

    private static string[] Arguments(WeakShotFixture fixture, string output) =>
        ["prepare", "weak-shot", "--src", fixture.Source, "--base_classes", fixture.BaseList, "--novel-classes", fixture.NovelList, "--web_dir", fixture.Web, "--out", output];

    [Fact]
    public void WeakShotPrintsTheFoldersAndWhatWasDropped()
    {
        var fixture = new WeakShotFixture(Path.Combine(_root, "in"));
        var r = SmileProcess.Run(Arguments(fixture, Output));
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        Assert.Contains($"{Path.Combine(Output, "base/train")}: 2 classes, 4 images", r.Stdout);
        Assert.Contains($"{Path.Combine(Output, "novel_test")}: 2 classes, 4 images", r.Stdout);
        Assert.Contains($"{Path.Combine(Output, "web")}: 2 classes, 4 images", r.Stdout);
        Assert.Contains($"{Path.Combine(Output, "web", "novel_c")}: kept 2 of 5 web images (2 copies of test images dropped, 1 unreadable skipped)", r.Stdout);
        Assert.Contains($"{Path.Combine(Output, "web", "novel_d")}: kept 2 of 3 web images (1 copies of test images dropped, 0 unreadable skipped)", r.Stdout);
        Assert.Contains($"dropped 3 of 8 web images as copies of test images (hash distance <= 6): {Path.Combine(Output, "dropped_duplicates.csv")}", r.Stdout);
        Assert.Contains("1 classes of --src are in neither list and were left out (e.g. other_e)", r.Stdout);
        Assert.StartsWith($"warning: skipped 1 web images that cannot be decoded (e.g. {Path.Combine(fixture.Web, WeakShotFixture.Broken)}: cannot decode image", r.Stderr);

        var again = SmileProcess.Run(Arguments(fixture, Output));
        Assert.True(again.ExitCode == 0, again.Describe() + again.Stdout + again.Stderr);
        Assert.Contains("linked 0, copied 0, written 0, already in place 16", again.Stdout);

        // With --hash_distance 0 the near copies stay in; a later run with the default would drop them, and
        // refuses to mix with the folder the first one wrote.
        string exact = Path.Combine(_root, "exact");
        var loose = SmileProcess.Run([.. Arguments(fixture, exact), "--hash_distance", "0"]);
        Assert.True(loose.ExitCode == 0, loose.Describe() + loose.Stdout + loose.Stderr);
        Assert.Contains($"{Path.Combine(exact, "web")}: 2 classes, 6 images", loose.Stdout);
        var mixed = SmileProcess.Run(Arguments(fixture, exact));
        Assert.True(mixed.ExitCode == 2, mixed.Describe() + mixed.Stdout + mixed.Stderr);
        Assert.Contains("remove it or choose another --out", mixed.Stderr);
    }

    [Theory]
    [InlineData("unknown class", "--base_classes", "base.txt:1: class 'base_z' is not a class folder of")]
    [InlineData("class in both lists", "--novel_classes", "novel.txt:2: class 'base_b' is also a base class (")]
    [InlineData("listed twice", "--novel_classes", "novel.txt:3: class 'novel_c' is listed twice (first on line 1)")]
    [InlineData("empty list", "--base_classes", "base.txt: the class list is empty")]
    [InlineData("no web folder", "--web_dir", "novel.txt:2: novel class 'novel_d' has no web folder")]
    [InlineData("extra web folder", "--web_dir", "web/other_e: web folder of 'other_e', which is not a novel class of")]
    [InlineData("bad distance", "--hash_distance", "--hash_distance: must be 0..64 bits (got 65)")]
    [InlineData("no web_dir", "--web_dir", "--web_dir: is required")]
    public void WeakShotMistakesAreOneLineWithExitCode2(string mistake, string flag, string message)
    {
        var fixture = new WeakShotFixture(Path.Combine(_root, "in"));
        var args = Arguments(fixture, Output).ToList();
        switch (mistake)
        {
            case "unknown class": File.WriteAllText(fixture.BaseList, "base_z\n"); break;
            case "class in both lists": File.WriteAllText(fixture.NovelList, "novel_c\nbase_b\n"); break;
            case "listed twice": File.WriteAllText(fixture.NovelList, "novel_c\nnovel_d\nnovel_c\n"); break;
            case "empty list": File.WriteAllText(fixture.BaseList, "\n# none\n"); break;
            case "no web folder": Directory.Delete(Path.Combine(fixture.Web, "novel_d"), recursive: true); break;
            case "extra web folder":
                Directory.CreateDirectory(Path.Combine(fixture.Web, "other_e"));
                File.Copy(Path.Combine(fixture.Web, "novel_d/web_0.jpg"), Path.Combine(fixture.Web, "other_e/web_0.jpg"));
                break;
            case "bad distance": args.AddRange(["--hash_distance", "65"]); break;
            case "no web_dir": args.RemoveRange(args.IndexOf("--web_dir"), 2); break;
        }
        var r = SmileProcess.Run(args.ToArray());
        Assert.True(r.ExitCode == 2, $"{flag}: {r.Describe()}\n{r.Stdout}{r.Stderr}");
        string line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains(message, line);
        Assert.False(Directory.Exists(Output)); // refused before anything is written
    }

    [Fact]
    public void FashionWeakShotPrintsTheFoldersAndTheOutliersAndRefusesBadFlags()
    {
        string source = FashionIdxFixture.Write(Path.Combine(_root, "idx"), trainPerClass: 30, testPerClass: 2);
        var r = SmileProcess.Run("prepare", "fashion-weak-shot", "--src", source, "--out", Output, "--web-per-class", "6", "--outlier-fraction", "0.25", "--seed", "3");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stdout + r.Stderr);
        Assert.Contains($"{Path.Combine(Output, "web")}: 5 classes, 40 images", r.Stdout);
        Assert.Contains($"{Path.Combine(Output, "novel_test")}: 5 classes, 10 images", r.Stdout);
        Assert.Contains($"{Path.Combine(Output, "base/test")}: 5 classes, 10 images", r.Stdout);
        Assert.Contains($"planted 10 outliers in 5 web folders, 2 of 8 each (25.0%): {Path.Combine(Output, "outliers.csv")}", r.Stdout);
        Assert.Equal(41, File.ReadAllLines(Path.Combine(Output, "outliers.csv")).Length);

        foreach (var (flag, value, message) in new[]
        {
            ("--outlier_fraction", "1", "error: --outlier_fraction: must be at least 0 and below 1 (got 1)"),
            ("--base", "0,1,2,3,4,5,6,7,8", "error: --base: must leave at least two novel classes"),
            ("--base", "0,0", "error: --base: class 0 is listed twice"),
            ("--web_per_class", "31", $"error: {source}: class 5_sandal has 30 training images, too few for 31 clean web images beside the 0 taken already"),
        })
        {
            var bad = SmileProcess.Run("prepare", "fashion-weak-shot", "--src", source, "--out", Path.Combine(_root, "bad"), flag, value);
            Assert.True(bad.ExitCode == 2, bad.Describe() + bad.Stdout + bad.Stderr);
            Assert.Equal(message, bad.Stderr.Trim());
        }
    }
}

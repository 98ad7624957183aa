using Smile.Data;
using Smile.Data.Prepare;

namespace Smile.Tests.Data.Prepare;

/// <summary>The weak-shot layout from a prepared data set and web folders: what goes where, which web images are
/// dropped, and every mistake in the inputs named in one line.</summary>
public sealed class WeakShotLayoutTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("smile-weakshot-");
    private readonly WeakShotFixture _fixture;

    public WeakShotLayoutTests() => _fixture = new WeakShotFixture(Path.Combine(_temp.FullName, "in"));
    public void Dispose() => _temp.Delete(recursive: true);

    private string Output => Path.Combine(_temp.FullName, "out");

    private WeakShotLayout.Options Options(int distance = TestDuplicates.DefaultMaxDistance) =>
        new(_fixture.Source, _fixture.BaseList, _fixture.NovelList, _fixture.Web, distance);

    private static string[] Tree(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f)).Order(StringComparer.Ordinal).ToArray();

    private static string[] Images(string split, params string[] classes) =>
        classes.SelectMany(c => new[] { $"{split}/{c}/0.jpg", $"{split}/{c}/1.jpg" }).ToArray();

    [Fact]
    public void LaysOutBaseWebAndNovelTestAndDropsTheCopiesOfTestImages()
    {
        var preparation = WeakShotLayout.Plan(Options());
        var result = ImageFolderWriter.Write(preparation.Plan, Output);
        WeakShotLayout.WriteReports(preparation, Output);

        string[] expected =
        [
            ..Images("base/test", "base_a", "base_b"), ..Images("base/train", "base_a", "base_b"),
            WeakShotLayout.DroppedFile,
            ..Images("novel_test", "novel_c", "novel_d"),
            WeakShotLayout.UnreadableFile,
            ..WeakShotFixture.KeptWeb.Select(k => "web/" + k),
        ];
        Assert.Equal(expected.Order(StringComparer.Ordinal), Tree(Output));
        Assert.Equal(result.Linked + result.Copied, expected.Length - 2);
        // Hard links of the sources, not new files.
        Assert.Equal(File.ReadAllBytes(Path.Combine(_fixture.Source, "train/base_b/1.jpg")), File.ReadAllBytes(Path.Combine(Output, "base/train/base_b/1.jpg")));

        Assert.Equal(["novel_c", "novel_d"], preparation.NovelClasses);
        Assert.Equal(5, preparation.WebImages["novel_c"]);
        Assert.Equal(3, preparation.WebImages["novel_d"]);
        Assert.Equal(["other_e"], preparation.UnusedClasses);
        var dropped = preparation.Dropped.Select(d => (d.WebPath, d.TestPath)).Order().ToArray();
        var copies = WeakShotFixture.Copies.Select(c => (Path.Combine(_fixture.Web, c.Web), _fixture.TestImage(c.Test))).Order().ToArray();
        Assert.Equal(copies, dropped);
        Assert.All(preparation.Dropped, d => Assert.InRange(d.Distance, 0, TestDuplicates.DefaultMaxDistance));
        var unreadable = Assert.Single(preparation.Unreadable);
        Assert.Equal(Path.Combine(_fixture.Web, WeakShotFixture.Broken), unreadable.WebPath);
        Assert.Contains("cannot decode image", unreadable.Reason);

        var csv = File.ReadAllLines(Path.Combine(Output, WeakShotLayout.DroppedFile));
        Assert.Equal("class,web_path,test_path,distance", csv[0]);
        Assert.Equal(3, csv.Length - 1);
        var lossless = preparation.Dropped.Single(d => d.WebPath.EndsWith("lossless.png"));
        Assert.Contains($"novel_d,{lossless.WebPath},{lossless.TestPath},{lossless.Distance}", csv);
        Assert.Equal(0, lossless.Distance);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(Output, WeakShotLayout.UnreadableFile)).Length);

        // A second run writes nothing new.
        var again = ImageFolderWriter.Write(WeakShotLayout.Plan(Options()).Plan, Output);
        Assert.Equal(expected.Length - 2, again.Unchanged);
    }

    [Fact]
    public void ADistanceOfZeroKeepsTheNearCopiesAndDropsOnlyExactOnes()
    {
        var preparation = WeakShotLayout.Plan(Options(distance: 0));
        Assert.All(preparation.Dropped, d => Assert.Equal(0, d.Distance));
        Assert.Contains(preparation.Dropped, d => d.WebPath.EndsWith("lossless.png"));
        Assert.Equal(preparation.Dropped.Count + preparation.Plan.Images.Count(i => i.Split == "web") + 1, preparation.WebImages.Values.Sum());
    }

    private string Fails(Action mutate)
    {
        mutate();
        return Assert.Throws<DataException>(() => WeakShotLayout.Plan(Options())).Message;
    }

    [Fact]
    public void AClassThatIsNotInTrainIsNamedWithTheFileAndLine()
    {
        Assert.Equal($"{_fixture.BaseList}:4: class 'base_z' is not a class folder of {Path.Combine(_fixture.Source, "train")}",
            Fails(() => File.WriteAllText(_fixture.BaseList, "# the base classes\nbase_a\n\nbase_z\n")));
        File.WriteAllText(_fixture.BaseList, "base_a\nbase_b\n");
        Assert.Equal($"{_fixture.NovelList}:1: class 'Novel_C' is not a class folder of {Path.Combine(_fixture.Source, "train")} " +
                     "(did you mean 'novel_c'? class names are case-sensitive)",
            Fails(() => File.WriteAllText(_fixture.NovelList, "Novel_C\nnovel_d\n")));
    }

    [Fact]
    public void AClassInBothListsAListedTwiceClassAndAnEmptyListAreNamed()
    {
        Assert.Equal($"{_fixture.NovelList}:2: class 'base_b' is also a base class ({_fixture.BaseList}:4)",
            Fails(() => File.WriteAllText(_fixture.NovelList, "novel_c\nbase_b\n")));
        Assert.Equal($"{_fixture.NovelList}:3: class 'novel_c' is listed twice (first on line 1)",
            Fails(() => File.WriteAllText(_fixture.NovelList, "novel_c\nnovel_d\nnovel_c  # again\n")));
        Assert.Equal($"{_fixture.BaseList}: the class list is empty",
            Fails(() => File.WriteAllText(_fixture.BaseList, "# nothing yet\n\n")));
    }

    [Fact]
    public void AMissingOrAnUnexpectedWebFolderIsNamed()
    {
        string extra = Path.Combine(_fixture.Web, "other_e");
        Assert.Equal($"{extra}: web folder of 'other_e', which is not a novel class of {_fixture.NovelList}",
            Fails(() =>
            {
                Directory.CreateDirectory(extra);
                File.Copy(Path.Combine(_fixture.Web, "novel_d/web_0.jpg"), Path.Combine(extra, "web_0.jpg"));
            }));
        Directory.Delete(extra, recursive: true);
        Assert.Equal($"{_fixture.NovelList}:2: novel class 'novel_d' has no web folder {Path.Combine(_fixture.Web, "novel_d")}",
            Fails(() => Directory.Delete(Path.Combine(_fixture.Web, "novel_d"), recursive: true)));
    }

    [Fact]
    public void AWebFolderLeftEmptyIsAnError()
    {
        string folder = Path.Combine(_fixture.Web, "novel_d");
        Assert.Equal($"{folder}: none of the 1 web images is left after removing the copies of test images and the unreadable files",
            Fails(() =>
            {
                foreach (var file in Directory.GetFiles(folder).Where(f => !f.EndsWith("lossless.png"))) File.Delete(file);
            }));
    }

    [Fact]
    public void AnUnreadableTestImageIsAnError()
    {
        // A test image that cannot be hashed cannot be guarded against: it stops the preparation.
        string test = _fixture.TestImage("other_e/1.jpg");
        Assert.StartsWith($"{test}: cannot decode image", Fails(() => File.WriteAllBytes(test, [0xFF, 0xD8, 0xFF])));
    }
}

using Smile.Data;
using Smile.Data.Prepare;

namespace Smile.Tests.Data.Prepare;

/// <summary>
/// The Fashion-MNIST weak-shot layout on small idx fixtures of all ten classes, whose 2x2 images carry their own
/// label and index in their pixels: so a written PNG tells which source image it is, and the tests can check
/// outliers.csv against the images themselves, not only against the file names.
/// </summary>
public sealed class FashionWeakShotTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("smile-fashion-weakshot-");
    private readonly string _source;

    public FashionWeakShotTests() => _source = FashionIdxFixture.Write(Path.Combine(_temp.FullName, "idx"), TrainPerClass, TestPerClass);
    public void Dispose() => _temp.Delete(recursive: true);

    private const int TrainPerClass = 80, TestPerClass = 3;

    private static string[] Tree(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f)).Order(StringComparer.Ordinal).ToArray();

    private static string Name(int label) => FashionMnist.ClassNames[label];

    private string Prepare(string name, FashionWeakShot.Options options)
    {
        string output = Path.Combine(_temp.FullName, name);
        var preparation = FashionWeakShot.Plan(_source, options);
        ImageFolderWriter.Write(preparation.Plan, output);
        FashionWeakShot.WriteOutliers(preparation, output);
        return output;
    }

    private static FashionWeakShot.Options Options(int webPerClass = 6, double fraction = 0.25, int seed = 0, int? basePerClass = null) =>
        new([0, 1, 2, 3, 4], basePerClass, webPerClass, fraction, seed);

    private static string[] Files(string output, string folder) => Tree(Path.Combine(output, folder));

    [Fact]
    public void EveryFolderHoldsItsCountAndEachWebFolderTheExactOutlierFraction()
    {
        string output = Prepare("out", Options(webPerClass: 6, fraction: 0.25));
        Assert.Equal(2, FashionWeakShot.OutliersPerClass(6, 0.25)); // 6 * 0.25 / 0.75 = 2: 2 of 8 is 0.25

        var web = Files(output, "web");
        Assert.Equal(5 * 8, web.Length);
        foreach (int c in new[] { 5, 6, 7, 8, 9 })
        {
            Assert.Equal(8, web.Count(f => f.StartsWith(Name(c) + "/")));
            Assert.Equal(TestPerClass, Files(output, "novel_test/" + Name(c)).Length);
        }
        var baseTrain = Files(output, "base/train");
        foreach (int c in new[] { 0, 1, 2, 3, 4 })
            Assert.Equal(TestPerClass, Files(output, "base/test/" + Name(c)).Length);
        Assert.Equal(["base", "novel_test", FashionWeakShot.OutliersFile, "web"], Directory.EnumerateFileSystemEntries(output).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        var rows = File.ReadAllLines(Path.Combine(output, FashionWeakShot.OutliersFile));
        Assert.Equal("path,class,true_class,is_outlier", rows[0]);
        int fromBase = 0;
        foreach (var row in rows.Skip(1))
        {
            var f = row.Split(',');
            string path = f[0], folder = f[1], trueClass = f[2];
            Assert.StartsWith($"web/{folder}/train_", path);
            var image = ImageDecoder.Decode(Path.Combine(output, path));
            Assert.Equal(trueClass, Name(image.Pixels[0] / 20)); // the image itself is of the class the table says
            Assert.Equal(folder != trueClass ? "1" : "0", f[3]);
            if (f[3] == "1" && Array.IndexOf(FashionMnist.ClassNames, trueClass) < 5) fromBase++;
        }
        Assert.Equal(web.Select(f => "web/" + f.Replace('\\', '/')), rows.Skip(1).Select(r => r.Split(',')[0]));
        Assert.All(new[] { 5, 6, 7, 8, 9 }, c => Assert.Equal(2, rows.Count(r => r.StartsWith($"web/{Name(c)}/") && r.EndsWith(",1"))));

        // No training image twice: every web image and base/train image is a different source index, and base/train
        // is every base training image not planted as an outlier.
        var indices = web.Concat(baseTrain).Select(Path.GetFileName).ToList();
        Assert.Equal(indices.Count, indices.Distinct().Count());
        Assert.Equal(5 * TrainPerClass, baseTrain.Length + fromBase);
    }

    [Fact]
    public void OutliersComeFromEveryOtherClassAndNeverFromTheFolders()
    {
        // 90% outliers: 90 beside 10 clean images, so each folder draws about 10 from each of the other nine classes.
        var preparation = FashionWeakShot.Plan(_source, Options(webPerClass: 10, fraction: 0.9));
        foreach (int c in preparation.NovelClasses)
        {
            var outliers = preparation.Web.Where(w => w.Class == c && w.IsOutlier).ToList();
            Assert.Equal(90, outliers.Count);
            Assert.Equal(Enumerable.Range(0, 10).Where(o => o != c), outliers.Select(w => w.TrueClass).Distinct().Order());
            Assert.All(outliers.GroupBy(w => w.TrueClass), g => Assert.InRange(g.Count(), 2, 22));
        }
    }

    [Fact]
    public void TheSameSeedGivesTheSameDrawAndAnotherSeedAnother()
    {
        string a = Prepare("a", Options(seed: 7)), b = Prepare("b", Options(seed: 7)), c = Prepare("c", Options(seed: 8));
        Assert.Equal(Tree(a), Tree(b));
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, FashionWeakShot.OutliersFile)), File.ReadAllBytes(Path.Combine(b, FashionWeakShot.OutliersFile)));
        Assert.NotEqual(Files(a, "web"), Files(c, "web"));
        Assert.NotEqual(File.ReadAllText(Path.Combine(a, FashionWeakShot.OutliersFile)), File.ReadAllText(Path.Combine(c, FashionWeakShot.OutliersFile)));
    }

    [Fact]
    public void AnotherFractionAddsOtherOutliersToTheSameCleanImagesAndBasePerClassKeepsBaseTrain()
    {
        var low = FashionWeakShot.Plan(_source, Options(fraction: 0.25, basePerClass: 40));
        var high = FashionWeakShot.Plan(_source, Options(fraction: 0.5, basePerClass: 40));
        string[] Clean(FashionWeakShot.Preparation p) => p.Web.Where(w => !w.IsOutlier).Select(w => w.Path).ToArray();
        string[] BaseTrain(FashionWeakShot.Preparation p) => p.Plan.Images.Where(i => i.Split == "base/train").Select(i => i.RelativePath).ToArray();
        Assert.Equal(Clean(low), Clean(high));
        Assert.Equal(6 * 5, high.Web.Count(w => w.IsOutlier)); // round(6 * 0.5 / 0.5) = 6 per folder
        Assert.Equal(BaseTrain(low), BaseTrain(high));
        Assert.Equal(5 * 40, BaseTrain(low).Length);
    }

    [Fact]
    public void ImpossibleRequestsAreNamed()
    {
        var tooMany = Assert.Throws<DataException>(() => FashionWeakShot.Plan(_source, Options(webPerClass: TrainPerClass + 1)));
        Assert.Equal($"{_source}: class 5_sandal has {TrainPerClass} training images, too few for {TrainPerClass + 1} clean web images beside the 0 taken already", tooMany.Message);
        // 54 outliers a folder take about 30 images of every class from the back: 80 from the front no longer fit.
        var crowded = Assert.Throws<DataException>(() => FashionWeakShot.Plan(_source, Options(fraction: 0.9, basePerClass: TrainPerClass)));
        Assert.Contains("too few for 80 base/train images beside the", crowded.Message);
        Assert.Equal("the outlier fraction must be in [0, 1) (got 1)", Assert.Throws<DataException>(() => FashionWeakShot.Plan(_source, Options(fraction: 1))).Message);
        Assert.Contains("at least two base and two novel classes",
            Assert.Throws<DataException>(() => FashionWeakShot.Plan(_source, new FashionWeakShot.Options([0, 1, 2, 3, 4, 5, 6, 7, 8], null, 6, 0.2, 0))).Message);
    }
}

using System.Globalization;

namespace Smile.Data.Prepare;

/// <summary>
/// A weak-shot experiment (docs/METHODS.md, "SimTrans") cut from Fashion-MNIST, with label noise of a known amount:
/// base/train and base/test hold the base classes' clean images; web/&lt;novel class&gt; holds
/// <c>WebPerClass</c> training images of that class plus planted outliers, training images of the other nine
/// classes (base and novel, each outlier's class drawn uniformly) filed under the wrong label; novel_test holds
/// the novel classes' whole test split. outliers.csv says which web image is which, for the ROC AUC of the
/// SimNet's sample weights against the truth.
/// </summary>
/// <remarks>
/// The outlier fraction f is that of each web folder: n_out = round(N f / (1 - f)) outliers beside the N clean
/// images (halves rounded away from zero), so n_out / (N + n_out) = f up to that rounding (f = 0.2 and N = 200
/// give 50 of 250; f = 0.4 gives 133 of 333).
/// Every class's training images are shuffled once by the seed and the class alone; clean web images and
/// base/train are taken from the front of that order, outliers from the back, so no image is used twice in one
/// output, and the clean web images do not depend on f: outputs for several fractions differ only in their
/// outliers. With --base_per_class, base/train does not depend on N or f either (one base model serves them
/// all); without it, base/train is every training image not planted as an outlier, which does.
/// </remarks>
public static class FashionWeakShot
{
    public const string OutliersFile = "outliers.csv";

    public sealed record Options(IReadOnlyList<int> BaseClasses, int? BasePerClass, int WebPerClass, double OutlierFraction, int Seed);

    /// <summary>A web image: its path relative to the output folder ("web/5_sandal/train_01234.png"), the class
    /// of its folder and its own.</summary>
    public sealed record WebImage(string Path, int Class, int TrueClass)
    {
        public bool IsOutlier => Class != TrueClass;
    }

    public sealed record Preparation(ImageFolderPlan Plan, IReadOnlyList<int> NovelClasses, IReadOnlyList<WebImage> Web);

    /// <summary>Outliers planted beside <paramref name="webPerClass"/> clean images for the fraction <paramref name="fraction"/>.</summary>
    public static int OutliersPerClass(int webPerClass, double fraction) =>
        (int)Math.Round(webPerClass * fraction / (1 - fraction), MidpointRounding.AwayFromZero);

    public static Preparation Plan(string sourceFolder, Options options)
    {
        var baseClasses = options.BaseClasses;
        FashionMnist.CheckClasses(baseClasses);
        var novelClasses = Enumerable.Range(0, 10).Where(c => !baseClasses.Contains(c)).ToArray();
        // The SimNet learns from pairs of base classes and the main classifier tells novel classes apart: two of each at least.
        if (baseClasses.Count < 2 || novelClasses.Length < 2)
            throw new DataException($"a weak-shot split needs at least two base and two novel classes (got {baseClasses.Count} base classes of 10)");
        if (options.WebPerClass < 1) throw new DataException($"web images per class must be at least 1 (got {options.WebPerClass})");
        if (!(options.OutlierFraction is >= 0 and < 1)) throw new DataException($"the outlier fraction must be in [0, 1) (got {options.OutlierFraction.ToString(CultureInfo.InvariantCulture)})");
        if (options.BasePerClass is < 1) throw new DataException($"base images per class must be at least 1 (got {options.BasePerClass})");

        var (train, trainLabels) = FashionMnist.Read(sourceFolder, "train");
        var (test, testLabels) = FashionMnist.Read(sourceFolder, "t10k");
        var pools = Enumerable.Range(0, 10).Select(c => new Pool(sourceFolder, c, trainLabels, options.Seed)).ToArray();

        var plan = new ImageFolderPlan();
        var web = new List<WebImage>();
        void AddWeb(int folder, int index, int trueClass)
        {
            FashionMnist.AddImage(plan, "web", folder, train, "train", index);
            web.Add(new WebImage($"web/{FashionMnist.ClassNames[folder]}/train_{index:D5}.png", folder, trueClass));
        }
        foreach (int c in novelClasses)
            foreach (int index in pools[c].TakeFront(options.WebPerClass, "clean web images")) AddWeb(c, index, c);
        int outliers = OutliersPerClass(options.WebPerClass, options.OutlierFraction);
        foreach (int c in novelClasses)
        {
            // Its own generator per folder, so a folder's outlier classes do not depend on the other folders.
            var random = new Random(unchecked(options.Seed * 1000003 + 100 + c));
            var others = Enumerable.Range(0, 10).Where(o => o != c).ToArray();
            for (int k = 0; k < outliers; k++)
            {
                int source = others[random.Next(others.Length)];
                AddWeb(c, pools[source].TakeBack(), source);
            }
        }

        foreach (int c in baseClasses.Order())
        {
            var indices = options.BasePerClass is { } n ? pools[c].TakeFront(n, "base/train images") : pools[c].TakeRest();
            foreach (int index in indices.Order()) FashionMnist.AddImage(plan, "base/train", c, train, "train", index);
        }
        AddTest(plan, "base/test", baseClasses, test, testLabels);
        AddTest(plan, "novel_test", novelClasses, test, testLabels);
        return new Preparation(plan, novelClasses, web.OrderBy(w => w.Path, StringComparer.Ordinal).ToList());
    }

    /// <summary>outliers.csv: path (relative to the output folder, '/'-separated), class (the folder), true_class, is_outlier (0/1).</summary>
    public static void WriteOutliers(Preparation preparation, string outputRoot) =>
        Csv.Write(Path.Combine(outputRoot, OutliersFile), ["path", "class", "true_class", "is_outlier"],
            preparation.Web.Select(w => new[] { w.Path, FashionMnist.ClassNames[w.Class], FashionMnist.ClassNames[w.TrueClass], w.IsOutlier ? "1" : "0" }));

    private static void AddTest(ImageFolderPlan plan, string split, IEnumerable<int> classes, IdxFile.Images images, byte[] labels)
    {
        foreach (int c in classes)
            for (int i = 0; i < labels.Length; i++)
                if (labels[i] == c) FashionMnist.AddImage(plan, split, c, images, "t10k", i);
    }

    /// <summary>One class's training images in its seeded order, handed out from the front and from the back, never twice.</summary>
    private sealed class Pool
    {
        private readonly string _folder;
        private readonly int _class;
        private readonly int[] _indices;
        private int _front, _back;

        public Pool(string folder, int c, byte[] labels, int seed)
        {
            _folder = folder;
            _class = c;
            _indices = Enumerable.Range(0, labels.Length).Where(i => labels[i] == c).ToArray();
            new Random(unchecked(seed * 1000003 + c)).Shuffle(_indices);
            _back = _indices.Length;
        }

        public int[] TakeFront(int count, string what)
        {
            if (count > _back - _front)
                throw new DataException($"{_folder}: class {FashionMnist.ClassNames[_class]} has {_indices.Length} training images, " +
                    $"too few for {count} {what} beside the {_front + _indices.Length - _back} taken already");
            _front += count;
            return _indices[(_front - count).._front];
        }

        public int TakeBack()
        {
            if (_back == _front)
                throw new DataException($"{_folder}: class {FashionMnist.ClassNames[_class]} has {_indices.Length} training images, too few for the outliers drawn from it");
            return _indices[--_back];
        }

        public int[] TakeRest()
        {
            var rest = _indices[_front.._back];
            _front = _back;
            return rest;
        }
    }
}

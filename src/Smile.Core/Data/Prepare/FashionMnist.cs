using SkiaSharp;

namespace Smile.Data.Prepare;

/// <summary>
/// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017) from its idx files (gzipped or not, as Debian's
/// `dataset-fashion-mnist` ships them in /usr/share/datasets/fashion-mnist) to ImageFolders of 28x28
/// grayscale PNGs. A class subset and a seeded per-class sample size cut the source and target tasks of a
/// transfer experiment from one download.
/// </summary>
public static class FashionMnist
{
    public const string DebianFolder = "/usr/share/datasets/fashion-mnist";

    /// <summary>Folder names: the label first, so that ImageFolder's ordinal sort keeps the official label order.</summary>
    public static readonly string[] ClassNames =
        ["0_tshirt_top", "1_trouser", "2_pullover", "3_dress", "4_coat", "5_sandal", "6_shirt", "7_sneaker", "8_bag", "9_ankle_boot"];

    public sealed record Options(IReadOnlyList<int> Classes, int? TrainPerClass, int? TestPerClass, int Seed);

    public static ImageFolderPlan Plan(string sourceFolder, Options options)
    {
        CheckClasses(options.Classes);
        var plan = new ImageFolderPlan();
        AddSplit(plan, sourceFolder, "train", "train", options.Classes, options.TrainPerClass, options.Seed);
        AddSplit(plan, sourceFolder, "test", "t10k", options.Classes, options.TestPerClass, options.Seed + 1);
        return plan;
    }

    internal static void CheckClasses(IReadOnlyList<int> classes)
    {
        foreach (int c in classes)
            if (c is < 0 or > 9) throw new DataException($"Fashion-MNIST class {c} does not exist (classes are 0..9)");
        if (classes.Distinct().Count() != classes.Count) throw new DataException("a Fashion-MNIST class is listed twice");
    }

    /// <summary>One split of the idx files ("train" or "t10k"): the images and their labels, checked to agree.</summary>
    internal static (IdxFile.Images Images, byte[] Labels) Read(string folder, string prefix)
    {
        var images = IdxFile.ReadImages(Find(folder, $"{prefix}-images-idx3-ubyte"));
        var labels = IdxFile.ReadLabels(Find(folder, $"{prefix}-labels-idx1-ubyte"));
        if (images.Count != labels.Length)
            throw new DataException($"{folder}: {prefix} has {images.Count} images but {labels.Length} labels");
        return (images, labels);
    }

    /// <summary>Image <paramref name="index"/> as a PNG named by split prefix and index ("train_01234.png") in the
    /// folder of class <paramref name="folderLabel"/> (a planted outlier's is not its own).</summary>
    internal static void AddImage(ImageFolderPlan plan, string split, int folderLabel, IdxFile.Images images, string prefix, int index) =>
        plan.AddGenerated(split, ClassNames[folderLabel], $"{prefix}_{index:D5}.png", () => EncodePng(images.Pixels(index), images.Rows, images.Columns));

    private static void AddSplit(ImageFolderPlan plan, string folder, string split, string prefix, IReadOnlyList<int> classes, int? perClass, int seed)
    {
        var (images, labels) = Read(folder, prefix);
        foreach (int c in classes)
        {
            var indices = Enumerable.Range(0, labels.Length).Where(i => labels[i] == c).ToArray();
            if (perClass is { } n && n < indices.Length)
            {
                // A seeded draw per class (the class index mixed in, so tasks with other class lists agree on a class).
                new Random(unchecked(seed * 1000003 + c)).Shuffle(indices);
                indices = indices.Take(n).Order().ToArray();
            }
            foreach (int i in indices) AddImage(plan, split, c, images, prefix, i);
        }
    }

    private static string Find(string folder, string name)
    {
        foreach (var candidate in new[] { name, name + ".gz" })
        {
            string path = Path.Combine(folder, candidate);
            if (File.Exists(path)) return path;
        }
        throw new DataException($"{folder}: Fashion-MNIST file {name}(.gz) not found");
    }

    // Skia's PNG encoder is deterministic, so a second run produces identical bytes (and writes nothing).
    internal static byte[] EncodePng(ReadOnlySpan<byte> pixels, int rows, int columns)
    {
        var info = new SKImageInfo(columns, rows, SKColorType.Gray8, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        pixels.CopyTo(bitmap.GetPixelSpan());
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100) ?? throw new InvalidOperationException("PNG encoding failed");
        return data.ToArray();
    }
}

using Smile.Data;

namespace Smile.Tests.Data.Prepare;

/// <summary>
/// The inputs of `smile prepare weak-shot` in a folder: a prepared data set src/ (train/ and test/, five classes
/// of two JPEGs each), base.txt and novel.txt (two classes each, one class in neither), and web/ with a folder per
/// novel class holding new images, copies of test images as a crawl would find them, and a broken download.
/// </summary>
internal sealed class WeakShotFixture
{
    public static readonly string[] Classes = ["base_a", "base_b", "novel_c", "novel_d", "other_e"];

    public string Root { get; }
    public string Source => Path.Combine(Root, "src");
    public string BaseList => Path.Combine(Root, "base.txt");
    public string NovelList => Path.Combine(Root, "novel.txt");
    public string Web => Path.Combine(Root, "web");

    /// <summary>The web images kept, as "class/file".</summary>
    public static readonly string[] KeptWeb = ["novel_c/web_0.jpg", "novel_c/web_1.jpg", "novel_d/web_0.jpg", "novel_d/web_1.jpg"];

    /// <summary>The web copies of test images: "class/file" of the web image and the test image it copies.</summary>
    public static readonly (string Web, string Test)[] Copies =
    [
        ("novel_c/resized_recompressed.jpg", "novel_c/0.jpg"), // a novel test image, resized and saved at a lower quality
        ("novel_c/base_copy.jpg", "base_a/1.jpg"),             // a base test image, recompressed
        ("novel_d/lossless.png", "novel_d/1.jpg"),             // a novel test image, decoded and saved as PNG
    ];

    public const string Broken = "novel_c/broken.jpg";

    public WeakShotFixture(string root)
    {
        Root = root;
        int seed = 0;
        foreach (var split in new[] { "train", "test" })
            foreach (var name in Classes)
                for (int i = 0; i < 2; i++)
                    Save(SyntheticPhotos.Render(160, 120, seed++), Path.Combine(Source, split, name, $"{i}.jpg"));
        File.WriteAllText(BaseList, "# the base classes\nbase_a\n\nbase_b   # a comment after a name\n");
        File.WriteAllText(NovelList, "novel_c\nnovel_d\n");
        foreach (var kept in KeptWeb) Save(SyntheticPhotos.Render(200, 150, 1000 + seed++), Path.Combine(Web, kept));
        ImageCopies.WriteResizedJpeg(TestImage(Copies[0].Test), Path.Combine(Web, Copies[0].Web), 100, 75, 60);
        ImageCopies.WriteResizedJpeg(TestImage(Copies[1].Test), Path.Combine(Web, Copies[1].Web), 160, 120, 50);
        ImageCopies.WritePng(ImageDecoder.Decode(TestImage(Copies[2].Test)), Path.Combine(Web, Copies[2].Web));
        File.WriteAllText(Path.Combine(Web, Broken), "<html>404 Not Found</html>");
    }

    public string TestImage(string classAndFile) => Path.Combine(Source, "test", classAndFile);

    private static void Save(RgbImage image, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        SyntheticPhotos.WriteJpeg(image, path);
    }
}

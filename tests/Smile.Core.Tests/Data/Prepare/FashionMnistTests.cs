using System.IO.Compression;
using Smile.Data;
using Smile.Data.Prepare;

namespace Smile.Tests.Data.Prepare;

/// <summary>Small idx fixtures written byte by byte from the format's description (big-endian magic and sizes).</summary>
public sealed class FashionMnistTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("smile-fmnist-");
    public void Dispose() => _temp.Delete(recursive: true);

    private static byte[] BigEndian(int v) => [(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v];

    private static byte Pixel(int image, int i) => (byte)((image * 37 + i * 11) % 256);

    // train: 12 images, labels 0,1,2,0,1,2,...; t10k: 6 images, same pattern. 3x4 pixels each.
    private string WriteFixture(bool gzip)
    {
        string folder = Path.Combine(_temp.FullName, gzip ? "gz" : "raw");
        Directory.CreateDirectory(folder);
        foreach (var (prefix, count) in new[] { ("train", 12), ("t10k", 6) })
        {
            var images = new List<byte>();
            images.AddRange(BigEndian(0x0803)); images.AddRange(BigEndian(count)); images.AddRange(BigEndian(3)); images.AddRange(BigEndian(4));
            for (int n = 0; n < count; n++) for (int i = 0; i < 12; i++) images.Add(Pixel(n, i));
            var labels = new List<byte>();
            labels.AddRange(BigEndian(0x0801)); labels.AddRange(BigEndian(count));
            for (int n = 0; n < count; n++) labels.Add((byte)(n % 3));
            Save(Path.Combine(folder, $"{prefix}-images-idx3-ubyte"), images.ToArray(), gzip);
            Save(Path.Combine(folder, $"{prefix}-labels-idx1-ubyte"), labels.ToArray(), gzip);
        }
        return folder;
    }

    private static void Save(string path, byte[] bytes, bool gzip)
    {
        if (!gzip) { File.WriteAllBytes(path, bytes); return; }
        using var file = File.Create(path + ".gz");
        using var zip = new GZipStream(file, CompressionLevel.Optimal);
        zip.Write(bytes);
    }

    private static string[] Tree(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f)).Order(StringComparer.Ordinal).ToArray();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WritesEveryImageOfTheChosenClassesWithItsPixels(bool gzip)
    {
        string output = Path.Combine(_temp.FullName, "out");
        var plan = FashionMnist.Plan(WriteFixture(gzip), new FashionMnist.Options([2, 0], null, null, 0));
        ImageFolderWriter.Write(plan, output);
        Assert.Equal([
            "test/0_tshirt_top/t10k_00000.png", "test/0_tshirt_top/t10k_00003.png",
            "test/2_pullover/t10k_00002.png", "test/2_pullover/t10k_00005.png",
            "train/0_tshirt_top/train_00000.png", "train/0_tshirt_top/train_00003.png", "train/0_tshirt_top/train_00006.png", "train/0_tshirt_top/train_00009.png",
            "train/2_pullover/train_00002.png", "train/2_pullover/train_00005.png", "train/2_pullover/train_00008.png", "train/2_pullover/train_00011.png",
        ], Tree(output));

        var image = ImageDecoder.Decode(Path.Combine(output, "train/2_pullover/train_00005.png"));
        Assert.Equal((4, 3), (image.Width, image.Height));
        for (int i = 0; i < 12; i++)
            for (int c = 0; c < 3; c++)
                Assert.Equal(Pixel(5, i), image.Pixels[i * 3 + c]); // gray decodes to equal R, G, B

        var folder = ImageFolder.ForTraining(Path.Combine(output, "train"));
        Assert.Equal(["0_tshirt_top", "2_pullover"], folder.Classes);
    }

    [Fact]
    public void ASeededSampleIsReproducibleAndDependsOnTheSeed()
    {
        string source = WriteFixture(gzip: false);
        string[] Sample(int seed, string name)
        {
            string output = Path.Combine(_temp.FullName, name);
            ImageFolderWriter.Write(FashionMnist.Plan(source, new FashionMnist.Options([0, 1, 2], 2, 1, seed)), output);
            return Tree(output);
        }
        var a = Sample(1, "a");
        Assert.Equal(a, Sample(1, "b"));
        Assert.Equal(3 * 2 + 3 * 1, a.Length);
        Assert.Equal(2, a.Count(f => f.StartsWith("train/1_trouser/")));
        var others = Enumerable.Range(2, 6).Select(seed => Sample(seed, $"s{seed}")).ToList();
        Assert.Contains(others, o => !o.SequenceEqual(a));
    }

    [Fact]
    public void BadFilesAreNamed()
    {
        string source = WriteFixture(gzip: false);
        File.Delete(Path.Combine(source, "t10k-labels-idx1-ubyte"));
        var missing = Assert.Throws<DataException>(() => FashionMnist.Plan(source, new FashionMnist.Options([0, 1], null, null, 0)));
        Assert.Contains("t10k-labels-idx1-ubyte", missing.Message);

        File.WriteAllBytes(Path.Combine(source, "t10k-labels-idx1-ubyte"), [0, 0, 8, 3, 0, 0, 0, 6, 1, 1, 1, 1, 1, 1]);
        var magic = Assert.Throws<DataException>(() => FashionMnist.Plan(source, new FashionMnist.Options([0, 1], null, null, 0)));
        Assert.Contains("t10k-labels-idx1-ubyte", magic.Message);

        File.WriteAllBytes(Path.Combine(source, "t10k-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 9, 1]);
        var truncated = Assert.Throws<DataException>(() => FashionMnist.Plan(source, new FashionMnist.Options([0, 1], null, null, 0)));
        Assert.Contains("malformed", truncated.Message);
    }
}

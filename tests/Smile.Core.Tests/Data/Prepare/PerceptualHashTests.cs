using System.Globalization;
using Smile.Data;
using Smile.Data.Prepare;
using Xunit.Abstractions;

namespace Smile.Tests.Data.Prepare;

/// <summary>The hash against an independent computation (NumPy, SciPy and Pillow), and its behaviour on copies
/// and on different images.</summary>
public sealed class PerceptualHashTests(ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("smile-phash-");
    public void Dispose() => _temp.Delete(recursive: true);

    private string PathOf(string name) => Path.Combine(_temp.FullName, name);

    [Fact]
    public void EqualsTheReferenceComputedWithNumPyScipyAndPillow()
    {
        var sizes = new[] { (32, 32), (64, 48), (37, 91), (300, 200), (640, 480), (17, 13) };
        var images = sizes.Select((s, i) => SyntheticPhotos.Render(s.Item1, s.Item2, 100 + i)).ToList();
        var args = new List<string>();
        for (int i = 0; i < images.Count; i++)
        {
            string file = PathOf($"{i}.rgb");
            File.WriteAllBytes(file, images[i].Pixels);
            args.AddRange([images[i].Width.ToString(CultureInfo.InvariantCulture), images[i].Height.ToString(CultureInfo.InvariantCulture), file]);
        }
        var expected = PythonRunner.Run("phash_reference.py", args.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var actual = images.Select(image => PerceptualHash.Of(image).ToString("x16")).ToArray();
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void CopiesStayWithinTheDefaultDistanceAndDifferentImagesFarBeyondIt()
    {
        var hashes = new List<ulong>();
        for (int seed = 0; seed < 12; seed++)
        {
            string original = PathOf($"{seed}.jpg");
            SyntheticPhotos.WriteJpeg(SyntheticPhotos.Render(320, 240, seed), original, quality: 90);
            ulong hash = PerceptualHash.Of(original);
            hashes.Add(hash);

            // Re-encoded losslessly (not always 0 bits: the JPEG is decoded at a reduced scale, the PNG is not),
            // recompressed hard, shrunk, enlarged, squashed out of its aspect ratio.
            ImageCopies.WritePng(ImageDecoder.Decode(original), PathOf($"{seed}.png"));
            ImageCopies.WriteResizedJpeg(original, PathOf($"{seed}_q40.jpg"), 320, 240, 40);
            ImageCopies.WriteResizedJpeg(original, PathOf($"{seed}_small.jpg"), 120, 90, 75);
            ImageCopies.WriteResizedJpeg(original, PathOf($"{seed}_large.jpg"), 800, 600, 85);
            ImageCopies.WriteResizedJpeg(original, PathOf($"{seed}_squashed.jpg"), 256, 256, 85);
            var copies = new[] { "png", "_q40.jpg", "_small.jpg", "_large.jpg", "_squashed.jpg" }
                .Select(suffix => PerceptualHash.Distance(hash, PerceptualHash.Of(PathOf(suffix == "png" ? $"{seed}.png" : $"{seed}{suffix}")))).ToArray();
            output.WriteLine($"seed {seed}: copies at {string.Join(", ", copies)} bits");
            Assert.All(copies, d => Assert.InRange(d, 0, TestDuplicates.DefaultMaxDistance - 2));
            Assert.Equal(1UL, hash >> 63); // the DC coefficient (the mean brightness) is always above the median
        }

        var distances = new List<int>();
        for (int a = 0; a < hashes.Count; a++)
            for (int b = a + 1; b < hashes.Count; b++) distances.Add(PerceptualHash.Distance(hashes[a], hashes[b]));
        output.WriteLine($"different images: min {distances.Min()}, mean {distances.Average():F1} bits");
        Assert.True(distances.Min() > 2 * TestDuplicates.DefaultMaxDistance, $"two different images only {distances.Min()} bits apart");
    }

    [Fact]
    public void AReducedScaleJpegDecodeChangesAtMostTwoBits()
    {
        for (int seed = 0; seed < 6; seed++)
        {
            string path = PathOf($"{seed}.jpg");
            SyntheticPhotos.WriteJpeg(SyntheticPhotos.Render(1000, 700, seed), path, quality: 90);
            int distance = PerceptualHash.Distance(PerceptualHash.Of(path), PerceptualHash.Of(ImageDecoder.Decode(path)));
            output.WriteLine($"seed {seed}: {distance} bits");
            Assert.InRange(distance, 0, 2);
        }
    }
}

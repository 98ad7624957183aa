using System.Globalization;
using System.Text;
using System.Text.Json;
using Smile.Data;
using Xunit.Abstractions;

namespace Smile.Tests.Data;

/// <summary>The outputs of python/pillow_resize_reference.py (Debian's Pillow 9.4 under /usr/bin/python3),
/// generated once, on first use, into a temporary folder removed afterwards.</summary>
public sealed class PillowReferenceFixture : IDisposable
{
    public sealed record Resized(int Width, int Height, string File);
    public sealed record Source(string Name, int Width, int Height, string File, Resized[] Resizes);
    public sealed record Crop(string Image, int Resize, int CropSize, bool Flip, int Top, int Left, string File);
    public sealed record Reference(string Directory, string PillowVersion, Source[] Images, Crop[] Crops)
    {
        public RgbImage Load(string file, int width, int height) =>
            new(width, height, System.IO.File.ReadAllBytes(Path.Combine(Directory, file)));

        public RgbImage LoadSource(string name)
        {
            var s = Images.Single(i => i.Name == name);
            return Load(s.File, s.Width, s.Height);
        }
    }

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "smile-pillow-" + Guid.NewGuid().ToString("N"));
    private readonly Lazy<Reference> _reference;

    public PillowReferenceFixture() => _reference = new Lazy<Reference>(Generate);

    /// <summary>Runs the script (through <see cref="PythonRunner"/>) on first access; a missing Python, Pillow or
    /// NumPy fails the tests that need it (never skips).</summary>
    public Reference Data => _reference.Value;

    private Reference Generate()
    {
        PythonRunner.Run("pillow_resize_reference.py", _directory);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_directory, "index.json")));
        var root = json.RootElement;
        var images = root.GetProperty("images").EnumerateArray().Select(e => new Source(
            e.GetProperty("name").GetString()!, e.GetProperty("width").GetInt32(), e.GetProperty("height").GetInt32(),
            e.GetProperty("file").GetString()!,
            e.GetProperty("resizes").EnumerateArray().Select(r => new Resized(
                r.GetProperty("width").GetInt32(), r.GetProperty("height").GetInt32(), r.GetProperty("file").GetString()!)).ToArray())).ToArray();
        var crops = root.GetProperty("crops").EnumerateArray().Select(e => new Crop(
            e.GetProperty("image").GetString()!, e.GetProperty("resize").GetInt32(), e.GetProperty("crop").GetInt32(),
            e.GetProperty("flip").GetBoolean(), e.GetProperty("top").GetInt32(), e.GetProperty("left").GetInt32(),
            e.GetProperty("file").GetString()!)).ToArray();
        return new Reference(_directory, root.GetProperty("pillow").GetString()!, images, crops);
    }

    public void Dispose()
    {
        try
        {
            if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // a leftover temporary folder is harmless
        }
    }
}

[CollectionDefinition("Pillow reference")]
public sealed class PillowReferenceCollection : ICollectionFixture<PillowReferenceFixture>;

[Collection("Pillow reference")]
public sealed class PillowResizeTests(PillowReferenceFixture pillow, ITestOutputHelper output)
{
    /// <summary>The key test: bit-exact against Pillow's Image.resize(size, Image.BILINEAR) on detailed
    /// images, downscaling (antialiased), upscaling, mixed, and the pass-skipping cases.</summary>
    [Fact]
    public void MatchesPillowBilinearExactly()
    {
        var reference = pillow.Data;
        var report = new StringBuilder();
        var failures = new List<string>();
        int compared = 0;
        foreach (var source in reference.Images)
        {
            var image = reference.Load(source.File, source.Width, source.Height);
            foreach (var r in source.Resizes)
            {
                var expected = reference.Load(r.File, r.Width, r.Height);
                var actual = PillowResize.Bilinear(image, r.Width, r.Height);
                var (mean, max) = Difference(expected.Pixels, actual.Pixels);
                string line = string.Create(CultureInfo.InvariantCulture,
                    $"{source.Width}x{source.Height} -> {r.Width}x{r.Height}: mean |diff| {mean:F4}, max {max}");
                report.AppendLine(line);
                // Bit-exact: the tolerance the reference pipeline would allow (mean <= 1, max <= 2) is not needed.
                if (max != 0) failures.Add(line);
                compared++;
            }
        }
        output.WriteLine($"Pillow {reference.PillowVersion}:\n{report}");
        Assert.True(compared >= 26, $"expected at least 26 reference resizes, found {compared}");
        Assert.True(failures.Count == 0,
            $"PillowResize.Bilinear differs from Pillow {reference.PillowVersion} (must be bit-exact) in {failures.Count} of {compared} cases:\n"
            + string.Join('\n', failures) + "\nall cases:\n" + report);
    }

    internal static (double Mean, int Max) Difference(byte[] expected, byte[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        long sum = 0;
        int max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            int d = Math.Abs(expected[i] - actual[i]);
            sum += d;
            if (d > max) max = d;
        }
        return ((double)sum / expected.Length, max);
    }

    /// <summary>A hand computation of Pillow's coefficients for 2 -> 4 columns (height unchanged:
    /// horizontal pass only): weights (1), (3/4, 1/4), (1/4, 3/4), (1) in 22-bit fixed point with the
    /// rounding half added: 0, 64.25 -> 64, 191.25 -> 191, 255.</summary>
    [Fact]
    public void UpscaleOfTwoPixelsMatchesHandComputation()
    {
        var source = new RgbImage(2, 1, [0, 10, 255, 255, 20, 0]);
        var result = PillowResize.Bilinear(source, 4, 1);
        // R: 0 -> 255, G: 10 -> 20 (10*3/4 + 20/4 = 12.5 -> 13 (exactly half rounds up), 17.5 -> 18), B: 255 -> 0
        Assert.Equal(new byte[] { 0, 10, 255, 64, 13, 191, 191, 18, 64, 255, 20, 0 }, result.Pixels);
    }

    [Fact]
    public void CropComputesTheSameAsResizeThenCrop()
    {
        var rng = new Random(7);
        foreach (var (sw, sh, w, h) in new[] { (500, 375, 256, 256), (100, 80, 256, 256), (300, 256, 256, 256), (256, 300, 256, 256), (256, 256, 256, 256), (90, 700, 37, 37), (40, 41, 256, 37) })
        {
            var source = Detailed(sw, sh, rng.Next());
            var full = PillowResize.Bilinear(source, w, h);
            for (int trial = 0; trial < 6; trial++)
            {
                int cw = rng.Next(1, w + 1), ch = rng.Next(1, h + 1);
                int left = rng.Next(0, w - cw + 1), top = rng.Next(0, h - ch + 1);
                var crop = PillowResize.BilinearCrop(source, w, h, left, top, cw, ch);
                Assert.Equal(cw, crop.Width);
                Assert.Equal(ch, crop.Height);
                for (int y = 0; y < ch; y++)
                {
                    var expectedRow = full.Pixels.AsSpan(((top + y) * w + left) * 3, cw * 3);
                    var actualRow = crop.Pixels.AsSpan(y * cw * 3, cw * 3);
                    Assert.True(expectedRow.SequenceEqual(actualRow),
                        $"{sw}x{sh} -> {w}x{h}, crop ({left},{top}) {cw}x{ch}: row {y} differs from the full resize");
                }
            }
        }
    }

    [Fact]
    public void SameSizeIsAnIndependentCopy()
    {
        var source = Detailed(31, 17, 3);
        var result = PillowResize.Bilinear(source, 31, 17);
        Assert.NotSame(source.Pixels, result.Pixels);
        Assert.Equal(source.Pixels, result.Pixels);
    }

    [Theory]
    [InlineData(500, 375, 256, 256)]
    [InlineData(37, 53, 256, 256)]
    [InlineData(2000, 13, 37, 37)]
    public void ConstantImageStaysConstant(int sw, int sh, int w, int h)
    {
        var source = new RgbImage(sw, sh);
        for (int i = 0; i < source.Pixels.Length; i += 3) (source.Pixels[i], source.Pixels[i + 1], source.Pixels[i + 2]) = (7, 128, 255);
        var result = PillowResize.Bilinear(source, w, h);
        for (int i = 0; i < result.Pixels.Length; i += 3)
            Assert.True(result.Pixels[i] == 7 && result.Pixels[i + 1] == 128 && result.Pixels[i + 2] == 255, $"pixel {i / 3} changed");
    }

    [Fact]
    public void ConcurrentCallsMatchSequentialOnes()
    {
        var sources = Enumerable.Range(0, 24).Select(i => Detailed(200 + 37 * i, 150 + 11 * i, i)).ToArray();
        var sequential = sources.Select(s => PillowResize.Bilinear(s, 256, 256).Pixels).ToArray();
        var parallel = new byte[sources.Length][];
        Parallel.For(0, sources.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => parallel[i] = PillowResize.Bilinear(sources[i], 256, 256).Pixels);
        for (int i = 0; i < sources.Length; i++) Assert.True(sequential[i].AsSpan().SequenceEqual(parallel[i]), $"image {i} differs when resized concurrently");
    }

    [Fact]
    public void RejectsInvalidArguments()
    {
        var source = new RgbImage(10, 10);
        Assert.Contains("must be positive", Assert.Throws<ArgumentException>(() => PillowResize.Bilinear(source, 0, 5)).Message);
        Assert.Contains("must be positive", Assert.Throws<ArgumentException>(() => PillowResize.Bilinear(source, 5, -1)).Message);
        Assert.Throws<ArgumentNullException>(() => PillowResize.Bilinear(null!, 5, 5));
        Assert.Contains("does not fit", Assert.Throws<ArgumentException>(() => PillowResize.BilinearCrop(source, 8, 8, 1, 0, 8, 8)).Message);
        Assert.Contains("does not fit", Assert.Throws<ArgumentException>(() => PillowResize.BilinearCrop(source, 8, 8, 0, -1, 4, 4)).Message);
        Assert.Contains("crop size must be positive", Assert.Throws<ArgumentException>(() => PillowResize.BilinearCrop(source, 8, 8, 0, 0, 0, 4)).Message);
    }

    /// <summary>A seeded image with structure and noise (for the C#-only consistency tests).</summary>
    internal static RgbImage Detailed(int width, int height, int seed)
    {
        var rng = new Random(seed);
        var image = new RgbImage(width, height);
        var p = image.Pixels;
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
        {
            int i = (y * width + x) * 3;
            bool checker = ((x / 3 + y / 3) & 1) == 0 && x < width / 4;
            p[i] = checker ? (byte)255 : (byte)(128 + 100 * Math.Sin(x * 0.7 + y * 0.05));
            p[i + 1] = (byte)rng.Next(256);
            p[i + 2] = checker ? (byte)0 : (byte)(128 + 120 * Math.Cos(x * 0.02 - y * 0.9));
        }
        return image;
    }
}

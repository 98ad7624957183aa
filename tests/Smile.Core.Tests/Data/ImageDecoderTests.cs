using System.Text.Json;
using SkiaSharp;
using Smile.Data;
using Xunit.Abstractions;

namespace Smile.Tests.Data;

/// <summary>
/// Files written by Pillow's own encoders (python/make_decode_fixtures.py under Debian's /usr/bin/python3) together with
/// the pixels Pillow decodes from them: generated once per test class into a temporary folder removed afterwards.
/// </summary>
public sealed class DecodeFixtures : IDisposable
{
    public sealed record Reference(int Width, int Height, string RgbFile);
    public sealed record Entry(string File, string Kind, Reference Full, int? DraftMin, Reference? Draft);

    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("smile-decode-");
    private readonly Lazy<Dictionary<string, Entry>> _entries;

    public DecodeFixtures() => _entries = new(Generate);

    /// <summary>The fixture folder; the script runs on first use, so a missing Python or Pillow fails the tests
    /// (with the fix), never skips them.</summary>
    public string Folder
    {
        get
        {
            _ = _entries.Value;
            return _directory.FullName;
        }
    }
    public Entry this[string file] => _entries.Value[file];
    public string PathOf(string file) => Path.Combine(Folder, file);
    public byte[] Pixels(Reference r) => File.ReadAllBytes(PathOf(r.RgbFile));

    private Dictionary<string, Entry> Generate()
    {
        PythonRunner.Run("make_decode_fixtures.py", _directory.FullName);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_directory.FullName, "index.json")));
        static Reference Ref(JsonElement e) => new(e.GetProperty("width").GetInt32(), e.GetProperty("height").GetInt32(), e.GetProperty("rgb").GetString()!);
        return json.RootElement.GetProperty("images").EnumerateArray().Select(e =>
        {
            var hasDraft = e.TryGetProperty("draft", out var d);
            return new Entry(e.GetProperty("file").GetString()!, e.GetProperty("kind").GetString()!, Ref(e),
                hasDraft ? d.GetProperty("min").GetInt32() : null, hasDraft ? Ref(d) : null);
        }).ToDictionary(e => e.File);
    }

    public void Dispose() => _directory.Delete(recursive: true);
}

public sealed class ImageDecoderTests(DecodeFixtures fixtures, ITestOutputHelper output) : IClassFixture<DecodeFixtures>
{
    private static (double Mean, int Max, int Differing) Compare(byte[] expected, byte[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        long sum = 0;
        int max = 0, differing = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            int d = Math.Abs(expected[i] - actual[i]);
            sum += d;
            max = Math.Max(max, d);
            if (d != 0) differing++;
        }
        return ((double)sum / expected.Length, max, differing);
    }

    private static void AssertSize(DecodeFixtures.Reference expected, RgbImage actual) =>
        Assert.Equal((expected.Width, expected.Height), (actual.Width, actual.Height));

    [Theory]
    [InlineData("rgb.png")]
    [InlineData("gray.png")]
    [InlineData("gray_alpha.png")]
    [InlineData("palette.png")]
    [InlineData("rgba.png")]         // alpha dropped, colour under alpha 0 kept: not composited on black or white
    [InlineData("icc_gamma1.png")]   // embedded profile not applied
    [InlineData("rgb.bmp")]
    [InlineData("lossless.webp")]
    [InlineData("lossless_rgba.webp")]
    [InlineData("anim.gif")]         // first frame (the second is the first turned upside down)
    [InlineData("transparent.gif")]  // the transparent index comes out as its palette colour, as in Pillow
    public void LosslessFormatsMatchPillowExactly(string file)
    {
        var entry = fixtures[file];
        var image = ImageDecoder.Decode(fixtures.PathOf(file));
        AssertSize(entry.Full, image);
        var (mean, max, differing) = Compare(fixtures.Pixels(entry.Full), image.Pixels);
        Assert.True(differing == 0, $"{file}: {differing} of {image.Pixels.Length} bytes differ from Pillow (mean {mean:F4}, max {max})");
    }

    // Pillow (Debian's libjpeg-turbo) and Skia (its bundled libjpeg-turbo) use the same integer IDCT and fancy chroma
    // upsampling: measured identical, so any difference, even 1, means a decoding setting drifted (e.g. a faster IDCT).
    [Theory]
    [InlineData("rgb.jpg")]           // 4:2:0 chroma
    [InlineData("rgb444.jpg")]
    [InlineData("progressive.jpg")]
    [InlineData("gray.jpg")]
    [InlineData("cmyk.jpg")]          // Adobe-inverted CMYK, as Pillow writes it
    [InlineData("exif_rotated.jpg")]  // orientation 6 is not applied: Pillow's size, not turned 90 degrees
    [InlineData("icc_gamma1.jpg")]    // embedded profile not applied
    [InlineData("mid.jpg")]
    [InlineData("big.jpg")]
    public void JpegsMatchPillowClosely(string file)
    {
        var entry = fixtures[file];
        var image = ImageDecoder.Decode(fixtures.PathOf(file));
        AssertSize(entry.Full, image);
        var (mean, max, differing) = Compare(fixtures.Pixels(entry.Full), image.Pixels);
        var measured = $"{file}: mean abs difference {mean:F4}, max {max}, {differing} of {image.Pixels.Length} bytes differ";
        output.WriteLine(measured);
        Assert.True(differing == 0, measured);
    }

    [Fact]
    public void EmbeddedProfilesWouldChangeThePixelsIfApplied()
    {
        // Guards the two icc_gamma1 cases above: Skia reads the profile, and colour-converting to sRGB moves pixels a lot,
        // so decoding with a colour space by mistake would fail them.
        foreach (var file in new[] { "icc_gamma1.jpg", "icc_gamma1.png" })
        {
            var entry = fixtures[file];
            using var codec = SKCodec.Create(fixtures.PathOf(file));
            Assert.NotNull(codec.Info.ColorSpace);
            var info = new SKImageInfo(entry.Full.Width, entry.Full.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul, SKColorSpace.CreateSrgb());
            using var bitmap = new SKBitmap(info);
            Assert.Equal(SKCodecResult.Success, codec.GetPixels(info, bitmap.GetPixels()));
            var rgba = bitmap.GetPixelSpan();
            var converted = new byte[entry.Full.Width * entry.Full.Height * 3];
            for (int i = 0, o = 0; o < converted.Length; i += 4, o += 3)
                (converted[o], converted[o + 1], converted[o + 2]) = (rgba[i], rgba[i + 1], rgba[i + 2]);
            var (mean, _, _) = Compare(fixtures.Pixels(entry.Full), converted);
            Assert.True(mean > 10, $"{file}: colour conversion changed pixels by only {mean:F2} on average");
        }
    }

    [Theory]
    [InlineData(256, 256, 500, 325)]   // 2000/256 = 7, 1300/256 = 5: scale 1/4 (1/8 would give 250 < 256)
    [InlineData(200, 100, 250, 163)]   // 1/8, sizes rounded up as libjpeg does: ceil(1300 / 8) = 163
    [InlineData(600, 600, 1000, 650)]  // 1/2
    [InlineData(700, 700, 2000, 1300)] // 1300 < 2 * 700: full size
    [InlineData(0, 0, 2000, 1300)]     // no target: full size
    [InlineData(256, 0, 2000, 1300)]
    public void LargeJpegsDecodeAtTheReducedScalePillowDraftPicks(int minWidth, int minHeight, int width, int height)
    {
        var image = ImageDecoder.Decode(fixtures.PathOf("big.jpg"), minWidth, minHeight);
        Assert.Equal((width, height), (image.Width, image.Height));
    }

    [Theory]
    [InlineData("big.jpg")]  // reduced to 1/4
    [InlineData("mid.jpg")]  // 500x375 < 2 * 256: full size
    public void ReducedScaleDecodeMatchesPillowDraft(string file)
    {
        var entry = fixtures[file];
        var image = ImageDecoder.Decode(fixtures.PathOf(file), entry.DraftMin!.Value, entry.DraftMin.Value);
        AssertSize(entry.Draft!, image);
        var (mean, max, differing) = Compare(fixtures.Pixels(entry.Draft!), image.Pixels);
        var measured = $"{file} at draft {entry.DraftMin}: {image.Width}x{image.Height}, mean abs difference {mean:F4}, max {max}, {differing} bytes differ";
        output.WriteLine(measured);
        Assert.True(differing == 0, measured);
    }

    [Fact]
    public void OtherFormatsAreNeverReduced()
    {
        var image = ImageDecoder.Decode(fixtures.PathOf("rgb.png"), 64, 64);
        Assert.Equal((321, 243), (image.Width, image.Height));
    }

    [Fact]
    public void DecodesFromMemoryLikeFromAFile()
    {
        var bytes = File.ReadAllBytes(fixtures.PathOf("rgb.jpg"));
        Assert.Equal(ImageDecoder.Decode(fixtures.PathOf("rgb.jpg")).Pixels, ImageDecoder.Decode(bytes, "memory.jpg").Pixels);
        var e = Assert.Throws<DataException>(() => ImageDecoder.Decode(bytes.AsSpan(0, 100), "memory.jpg"));
        Assert.StartsWith("memory.jpg: cannot decode image", e.Message);
    }

    [Fact]
    public void ManyThreadsDecodeTheSamePixels()
    {
        var expected = ImageDecoder.Decode(fixtures.PathOf("rgb.jpg"), 100, 100).Pixels;
        var results = new byte[32][];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 16 },
            i => results[i] = ImageDecoder.Decode(fixtures.PathOf(i % 2 == 0 ? "rgb.jpg" : "rgba.png"), 100, 100).Pixels);
        for (int i = 0; i < results.Length; i += 2) Assert.Equal(expected, results[i]);
    }

    [Theory]
    [InlineData("big.jpg", 2000, 1300)]
    [InlineData("exif_rotated.jpg", 321, 243)] // as stored, like Pillow's Image.size
    [InlineData("rgba.png", 321, 243)]
    [InlineData("lossless.webp", 321, 243)]
    [InlineData("anim.gif", 321, 243)]
    public void ReadSizeGivesTheStoredSize(string file, int width, int height) =>
        Assert.Equal((width, height), ImageDecoder.ReadSize(fixtures.PathOf(file)));

    public static TheoryData<string> BadFiles => new() { "truncated.jpg", "truncated.png", "random.jpg", "empty.jpg", "text.png", "missing.jpg" };

    /// <summary>Makes the named broken file from the good fixtures (cut in half, random bytes, nothing, text).</summary>
    private string MakeBad(string name)
    {
        var path = Path.Combine(fixtures.Folder, "bad-" + name);
        byte[]? content = name switch
        {
            "truncated.jpg" => File.ReadAllBytes(fixtures.PathOf("rgb.jpg"))[..(int)(new FileInfo(fixtures.PathOf("rgb.jpg")).Length / 2)],
            "truncated.png" => File.ReadAllBytes(fixtures.PathOf("rgb.png"))[..(int)(new FileInfo(fixtures.PathOf("rgb.png")).Length / 2)],
            "random.jpg" => RandomBytes(4096),
            "empty.jpg" => [],
            "text.png" => "this is not an image\n"u8.ToArray(),
            _ => null, // missing
        };
        if (content is not null) File.WriteAllBytes(path, content);
        return path;
    }

    private static byte[] RandomBytes(int n)
    {
        var bytes = new byte[n];
        new Random(7).NextBytes(bytes);
        return bytes;
    }

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void BrokenFilesAreADataExceptionNamingThePath(string name)
    {
        var path = MakeBad(name);
        var e = Assert.Throws<DataException>(() => ImageDecoder.Decode(path));
        output.WriteLine(e.Message);
        Assert.StartsWith($"{path}: cannot decode image (", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        if (!name.StartsWith("truncated"))
            Assert.StartsWith($"{path}: cannot decode image (", Assert.Throws<DataException>(() => ImageDecoder.ReadSize(path)).Message);
    }
}

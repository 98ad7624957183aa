using Smile.Data;

namespace Smile.Tests.Data;

/// <summary>The decompression-bomb limit: an image whose header claims too many pixels is refused before decoding.</summary>
public sealed class ImageDecoderLimitTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("smile-bomb-");

    public void Dispose() => _temp.Delete(recursive: true);

    [Fact]
    public void TheDefaultIsPillowsDecompressionBombErrorThreshold()
    {
        // PIL.Image.MAX_IMAGE_PIXELS is 89,478,485; Image.open raises DecompressionBombError above twice that.
        Assert.Equal(178_956_970, ImageDecoder.DefaultMaxPixels);
    }

    [Fact]
    public void A20000x20000PngIsRefusedFromItsHeaderWithoutDecodingIt()
    {
        var path = Path.Combine(_temp.FullName, "bomb.png");
        HugePng.Write(path, 20000, 20000);
        Assert.True(new FileInfo(path).Length < 1_000_000, $"the bomb is {new FileInfo(path).Length} bytes on disk");
        // The header really says 20000x20000: the refusal is about the size, not a file SkiaSharp cannot read.
        Assert.Equal((20000, 20000), ImageDecoder.ReadSize(path));

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DataException>(() => ImageDecoder.Decode(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.StartsWith(path + ": cannot decode image", e.Message);
        Assert.Contains("20000x20000 is 400000000 pixels", e.Message);
        Assert.Contains($"limit of {ImageDecoder.DefaultMaxPixels}", e.Message);
        Assert.Contains("`max_image_pixels`", e.Message); // the setting; the CLI shows it as --max_image_pixels
        // Reading the file is all it costs (it is under 1 MB); decoding would have rented a 1.6 GB RGBA buffer.
        Assert.True(allocated < 16 << 20, $"{allocated} bytes allocated to refuse the image");
    }

    [Fact]
    public void TheLimitCannotBeSetBelowOnePixel()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageDecoder.MaxPixels = 0);
        Assert.Equal(ImageDecoder.DefaultMaxPixels, ImageDecoder.MaxPixels); // unchanged (no test process changes it)
    }
}

using SkiaSharp;
using Smile.Data;

namespace Smile.Tests.Data.Prepare;

/// <summary>Copies of a photo as a web crawl finds them (for the perceptual hash tests and the weak-shot fixture).</summary>
internal static class ImageCopies
{
    /// <summary>A PNG of the image (lossless, so a test can re-encode without loss).</summary>
    public static void WritePng(RgbImage image, string path)
    {
        var info = new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        var pixels = bitmap.GetPixelSpan();
        for (int i = 0, o = 0; i < image.Pixels.Length; i += 3, o += 4)
        {
            pixels[o] = image.Pixels[i];
            pixels[o + 1] = image.Pixels[i + 1];
            pixels[o + 2] = image.Pixels[i + 2];
            pixels[o + 3] = 255;
        }
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }

    /// <summary>What a crawler finds of a photo: resized and saved again as JPEG at a lower quality.</summary>
    public static void WriteResizedJpeg(string source, string path, int width, int height, int quality) =>
        SyntheticPhotos.WriteJpeg(PillowResize.Bilinear(ImageDecoder.Decode(source), width, height), path, quality);
}

using SkiaSharp;

namespace Smile.Data.Prepare;

/// <summary>Removes a band of rows at the bottom of an image (FGVC-Aircraft's copyright banner) and re-encodes it as JPEG.</summary>
public static class BannerCrop
{
    // JPEG, not PNG: the photographs are JPEGs already, and PNG would triple the data set's size on disk. At
    // quality 95 the second generation loss is far below what the training transforms (resize, crop) change.
    public const int JpegQuality = 95;

    public static byte[] Crop(string path, int rows)
    {
        var image = ImageDecoder.Decode(path);
        if (image.Height <= rows)
            throw new DataException($"{path}: image is only {image.Height} pixels high, too short to remove the {rows}-pixel banner");
        int kept = image.Height - rows;
        var top = new RgbImage(image.Width, kept, image.Pixels.AsSpan(0, image.Width * kept * 3).ToArray());
        return EncodeJpeg(top, JpegQuality);
    }

    // Skia's (libjpeg-turbo's) encoder is deterministic, so a second run produces identical bytes and writes nothing.
    internal static byte[] EncodeJpeg(RgbImage image, int quality)
    {
        var info = new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        var pixels = bitmap.GetPixelSpan();
        var rgb = image.Pixels;
        for (int y = 0; y < image.Height; y++)
        {
            var row = pixels.Slice(y * bitmap.RowBytes, image.Width * 4);
            for (int x = 0, o = y * image.Width * 3; x < image.Width; x++, o += 3)
            {
                row[x * 4] = rgb[o];
                row[x * 4 + 1] = rgb[o + 1];
                row[x * 4 + 2] = rgb[o + 2];
                row[x * 4 + 3] = 255;
            }
        }
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, quality) ?? throw new InvalidOperationException("JPEG encoding failed");
        return data.ToArray();
    }
}

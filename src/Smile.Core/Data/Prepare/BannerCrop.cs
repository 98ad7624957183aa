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
        using var bitmap = image.ToBitmap();
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, quality) ?? throw new InvalidOperationException("JPEG encoding failed");
        return data.ToArray();
    }
}

using SkiaSharp;

namespace Smile.Data;

/// <summary>
/// An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B (Height * Width * 3 bytes):
/// what the decoder produces and the transforms consume, before anything becomes a tensor.
/// </summary>
public sealed class RgbImage
{
    public int Width { get; }
    public int Height { get; }
    public byte[] Pixels { get; }

    public RgbImage(int width, int height, byte[]? pixels = null)
    {
        if (width < 1 || height < 1) throw new ArgumentOutOfRangeException(nameof(width), $"image size must be positive (got {width}x{height})");
        long length = (long)width * height * 3;
        if (pixels is not null && pixels.Length != length)
            throw new ArgumentException($"expected {length} bytes for {width}x{height} RGB, got {pixels.Length}", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels ?? new byte[length];
    }

    /// <summary>The image as an opaque RGBA SkiaSharp bitmap (to encode, or to draw), owned by the caller.</summary>
    internal SKBitmap ToBitmap()
    {
        var bitmap = new SKBitmap(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = bitmap.GetPixelSpan();
        for (int y = 0; y < Height; y++)
        {
            var row = pixels.Slice(y * bitmap.RowBytes, Width * 4);
            for (int x = 0, o = y * Width * 3; x < Width; x++, o += 3)
            {
                row[x * 4] = Pixels[o];
                row[x * 4 + 1] = Pixels[o + 1];
                row[x * 4 + 2] = Pixels[o + 2];
                row[x * 4 + 3] = 255;
            }
        }
        return bitmap;
    }
}

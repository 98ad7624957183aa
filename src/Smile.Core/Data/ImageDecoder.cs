using System.Buffers;
using SkiaSharp;

namespace Smile.Data;

/// <summary>
/// Decodes image files to 8-bit RGB the way a PyTorch pipeline sees them through Pillow's
/// <c>Image.open(f).convert("RGB")</c>: no EXIF rotation, no ICC colour conversion, alpha dropped (not composited),
/// first frame of an animation. JPEGs may be decoded at a reduced DCT scale by Pillow's <c>draft</c> rule.
/// Stateless but for <see cref="MaxPixels"/>: every call owns its SkiaSharp objects, so any number of threads may
/// decode at once.
/// </summary>
public static class ImageDecoder
{
    /// <summary>
    /// Pillow's decompression-bomb error threshold: <c>Image.open</c> raises <c>DecompressionBombError</c> above twice
    /// <c>Image.MAX_IMAGE_PIXELS</c> (2 x 89,478,485). A PyTorch pipeline reading the same folder refuses the same files.
    /// </summary>
    public const long DefaultMaxPixels = 2 * 89_478_485L;

    private static long maxPixels = DefaultMaxPixels;

    /// <summary>
    /// Images with more pixels than this (width x height as the header states them, before any reduced-scale JPEG
    /// decoding, as Pillow counts) are refused before a single pixel is decoded. A PNG of one colour compresses about
    /// a thousand to one, so a file of a few hundred kilobytes can claim 20000x20000 pixels (1.6 GB as RGBA); with
    /// the limit, what one decoding thread holds is bounded: an RGBA buffer (4 bytes a pixel, rounded up to a
    /// power of two by the array pool) and the RGB image (3 bytes a pixel).
    /// Process-wide: the CLI sets it once, from --max_image_pixels or SMILE_MAX_IMAGE_PIXELS.
    /// </summary>
    public static long MaxPixels
    {
        get => Volatile.Read(ref maxPixels);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            Volatile.Write(ref maxPixels, value);
        }
    }

    /// <summary>Decodes <paramref name="path"/>; a JPEG at least twice (minWidth x minHeight) is decoded at 1/2, 1/4 or 1/8 scale.</summary>
    public static RgbImage Decode(string path, int minWidth = 0, int minHeight = 0) =>
        Decode(ReadAll(path), path, minWidth, minHeight);

    public static RgbImage Decode(ReadOnlySpan<byte> encoded, string nameForErrors, int minWidth = 0, int minHeight = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minWidth);
        ArgumentOutOfRangeException.ThrowIfNegative(minHeight);
        if (encoded.IsEmpty) throw Fail(nameForErrors, "empty file");

        using var data = SKData.CreateCopy(WithoutGifTransparency(encoded) ?? encoded);
        using var codec = SKCodec.Create(data) ?? throw Fail(nameForErrors, "not a JPEG, PNG, BMP, WebP or GIF file, or a damaged one");
        var size = codec.Info.Size;
        RefuseBombs(size, nameForErrors);
        if (codec.EncodedFormat == SKEncodedImageFormat.Jpeg)
            size = ReducedJpegSize(codec, minWidth, minHeight);

        // Unpremultiplied RGBA with no colour space: Skia neither converts colours (Pillow applies no ICC profile) nor
        // multiplies colour by alpha, so dropping A afterwards gives exactly Pillow's RGBA -> RGB.
        var info = new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul) { ColorSpace = null };
        long rgbaBytes = (long)info.Width * info.Height * 4;
        if (rgbaBytes > Array.MaxLength) throw Fail(nameForErrors, $"{info.Width}x{info.Height} is too large to decode");

        var rgba = ArrayPool<byte>.Shared.Rent((int)rgbaBytes);
        try
        {
            SKCodecResult result;
            unsafe
            {
                fixed (byte* p = rgba)
                    result = codec.GetPixels(info, (IntPtr)p, info.RowBytes, new SKCodecOptions(0)); // frame 0 of a GIF/WebP animation
            }
            // IncompleteInput (a truncated file) still "succeeds" with the missing rows filled in: a partial image
            // would be trained on silently, so it is an error like any other.
            if (result != SKCodecResult.Success) throw Fail(nameForErrors, Describe(result));
            return DropAlpha(rgba, info.Width, info.Height);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rgba);
        }
    }

    /// <summary>The full-resolution size from the header alone (as stored: EXIF orientation is not applied).</summary>
    public static (int Width, int Height) ReadSize(string path)
    {
        if (!File.Exists(path)) throw Fail(path, Directory.Exists(path) ? "it is a folder" : "file not found");
        using var codec = SKCodec.Create(path, out var result) ?? throw Fail(path, result == SKCodecResult.Success
            ? "not a JPEG, PNG, BMP, WebP or GIF file, or a damaged one" : Describe(result));
        return (codec.Info.Width, codec.Info.Height);
    }

    private static void RefuseBombs(SKSizeI size, string nameForErrors)
    {
        long pixels = (long)size.Width * size.Height;
        long limit = MaxPixels;
        if (pixels > limit)
            throw Fail(nameForErrors, $"{size.Width}x{size.Height} is {pixels} pixels, over the limit of {limit} that guards against " +
                "decompression bombs; raise it with `max_image_pixels` or SMILE_MAX_IMAGE_PIXELS if the image is genuine");
    }

    /// <summary>
    /// Pillow's <c>JpegImageFile.draft</c>: scale = min(W / minW, H / minH) in whole numbers, rounded down to 8, 4, 2 or 1,
    /// so the reduced image is never smaller than the target; libjpeg then gives ceil(W / scale) x ceil(H / scale).
    /// </summary>
    private static SKSizeI ReducedJpegSize(SKCodec codec, int minWidth, int minHeight)
    {
        var full = codec.Info.Size;
        if (minWidth == 0 || minHeight == 0) return full;
        int ratio = Math.Min(full.Width / minWidth, full.Height / minHeight);
        foreach (int scale in (ReadOnlySpan<int>)[8, 4, 2])
        {
            if (ratio < scale) continue;
            var scaled = codec.GetScaledDimensions(1f / scale);
            // Skia asks libjpeg for scale/8 eighths; check it got the size Pillow would have, else decode at full size.
            if (scaled.Width == (full.Width + scale - 1) / scale && scaled.Height == (full.Height + scale - 1) / scale)
                return scaled;
        }
        return full;
    }

    /// <summary>
    /// Pillow's <c>convert("RGB")</c> of a GIF's first frame gives the transparent colour index its palette colour (the
    /// transparency is dropped like any alpha), where Skia decodes it as transparent black. Clearing the transparency
    /// flag in the first frame's Graphic Control Extension makes Skia decode that index as its palette colour too.
    /// Returns a patched copy, or null when the data is not a GIF with a transparent first frame (or is not understood).
    /// </summary>
    private static byte[]? WithoutGifTransparency(ReadOnlySpan<byte> gif)
    {
        if (gif.Length < 13 || !gif.StartsWith("GIF8"u8)) return null;
        int pos = 13; // header (6) and logical screen descriptor (7)
        if ((gif[10] & 0x80) != 0) pos += 3 << ((gif[10] & 7) + 1); // global colour table
        // Extension blocks (0x21, label, sub-blocks ended by a 0 size) until the first image descriptor (0x2C).
        while (pos + 3 < gif.Length && gif[pos] == 0x21)
        {
            if (gif[pos + 1] == 0xF9 && gif[pos + 2] == 4) // Graphic Control Extension: 4 bytes, packed flags first
            {
                if ((gif[pos + 3] & 1) == 0) return null;
                var patched = gif.ToArray();
                patched[pos + 3] &= 0xFE;
                return patched;
            }
            pos += 2;
            while (pos < gif.Length && gif[pos] != 0) pos += gif[pos] + 1;
            pos++;
        }
        return null;
    }

    private static RgbImage DropAlpha(byte[] rgba, int width, int height)
    {
        var image = new RgbImage(width, height);
        var rgb = image.Pixels;
        for (int i = 0, o = 0; o < rgb.Length; i += 4, o += 3)
        {
            rgb[o] = rgba[i];
            rgb[o + 1] = rgba[i + 1];
            rgb[o + 2] = rgba[i + 2];
        }
        return image;
    }

    private static byte[] ReadAll(string path)
    {
        try { return File.ReadAllBytes(path); }
        catch (FileNotFoundException) { throw Fail(path, "file not found"); }
        catch (DirectoryNotFoundException) { throw Fail(path, "file not found"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw Fail(path, e.Message); }
    }

    private static string Describe(SKCodecResult result) => result switch
    {
        SKCodecResult.IncompleteInput => "truncated file",
        SKCodecResult.ErrorInInput => "corrupt data",
        SKCodecResult.InvalidInput => "not a JPEG, PNG, BMP, WebP or GIF file, or a damaged one",
        _ => $"decoder error: {result}",
    };

    private static DataException Fail(string name, string reason) => new($"{name}: cannot decode image ({reason})");
}

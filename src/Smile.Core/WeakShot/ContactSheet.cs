using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using SkiaSharp;
using Smile.Data;
using Smile.IO;
using Smile.Plots;

namespace Smile.WeakShot;

/// <summary>
/// A picture to judge one class's SimTrans sample weights by eye (docs/METHODS.md, "Sample weights"): the
/// <c>perRow</c> lowest-weighted web images (the likely outliers) in one labelled row and the <c>perRow</c>
/// highest-weighted in another, each tile with its weight printed under it, below a title with the class name and
/// its number of images. Both rows read from left to right in ascending weight, so the sheet is one sorted sequence
/// with the middle left out: the lowest weight first, the highest last. A class of fewer than 2·perRow images shows
/// all of them, sorted, in one section (every image once). Equal weights are ordered by path, so a sheet depends on
/// its inputs only.
/// <para>
/// Each image is scaled to fit its square tile, aspect kept, centred on a light grey ground. An image that cannot be
/// read becomes a grey tile saying "unreadable" (its weight still under it): a broken web image must not stop the
/// sheets. Drawn with SkiaSharp on the CPU in the charts' sans-serif font (DejaVu Sans, see
/// scripts/install-deps.sh), written atomically like every chart.
/// </para>
/// </summary>
public static class ContactSheet
{
    internal const int Margin = 12, Gap = 8, CaptionHeight = 18, TitleHeight = 34, LabelHeight = 24, SectionGap = 10, MinWidth = 320;
    internal static readonly SKColor Background = SKColors.White, TileGround = new(0xEE, 0xEE, 0xEE), UnreadableGround = new(0xB0, 0xB0, 0xB0);
    private static readonly SKColor Ink = new(0x22, 0x22, 0x22), LabelInk = new(0x55, 0x55, 0x55);
    private static readonly SKTypeface Regular = Typeface(SKFontStyle.Normal), Bold = Typeface(SKFontStyle.Bold);

    /// <summary>Writes the sheet of one class.</summary>
    /// <param name="images">Every web image of the class with its weight (at least one; weights finite).</param>
    /// <param name="perRow">k: how many of the lowest and of the highest weights are shown, one row each.</param>
    /// <param name="tile">The side of a tile in pixels.</param>
    /// <returns>One line for each image drawn as "unreadable", naming the file and why (for the caller to log).</returns>
    public static IReadOnlyList<string> Write(string pngPath, string className, IReadOnlyList<(string ImagePath, double Weight)> images, int perRow = 8, int tile = 96)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perRow, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(perRow, 100);
        ArgumentOutOfRangeException.ThrowIfLessThan(tile, 16);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(tile, 1024);
        if (images.Count == 0) throw new ArgumentException($"class '{className}' has no images to show", nameof(images));
        foreach (var (path, weight) in images)
            if (!double.IsFinite(weight)) throw new ArgumentException($"{path}: weight {weight} is not finite", nameof(images));

        var sorted = images.OrderBy(x => x.Weight).ThenBy(x => x.ImagePath, StringComparer.Ordinal).ToList();
        var shown = sorted.Count < 2 * perRow ? sorted : [.. sorted.Take(perRow), .. sorted.Skip(sorted.Count - perRow)];
        var layout = Plan(images.Count, perRow, tile);
        PngFile.CheckSize(layout.Width, layout.Height);

        var unreadable = new List<string>();
        using var surface = SKSurface.Create(new SKImageInfo(layout.Width, layout.Height, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException($"SkiaSharp could not make a {layout.Width}x{layout.Height} surface");
        var canvas = surface.Canvas;
        canvas.Clear(Background);
        using var title = new SKFont(Bold, 18) { Edging = SKFontEdging.Antialias };
        using var label = new SKFont(Regular, 13) { Edging = SKFontEdging.Antialias };
        using var caption = new SKFont(Regular, 12) { Edging = SKFontEdging.Antialias };
        using var ink = new SKPaint { Color = Ink, IsAntialias = true };
        using var labelInk = new SKPaint { Color = LabelInk, IsAntialias = true };

        string heading = $"{className} — {images.Count} {(images.Count == 1 ? "image" : "images")}";
        DrawText(canvas, heading, new SKRect(Margin, Margin, layout.Width - Margin, Margin + TitleHeight), SKTextAlign.Left, title, ink);
        foreach (var (text, band) in layout.Labels)
            DrawText(canvas, text, band, SKTextAlign.Left, label, labelInk);
        for (int i = 0; i < shown.Count; i++)
        {
            var (path, weight) = shown[i];
            var rect = layout.Tiles[i];
            if (DrawImage(canvas, path, rect) is { } problem) unreadable.Add(problem);
            DrawText(canvas, FormatWeight(weight), new SKRect(rect.Left - Gap / 2, rect.Bottom, rect.Right + Gap / 2, rect.Bottom + CaptionHeight),
                SKTextAlign.Center, caption, ink);
        }

        using var snapshot = surface.Snapshot();
        using var png = snapshot.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.WriteAllBytes(pngPath, png.ToArray());
        return unreadable;
    }

    /// <summary>
    /// A file name for the class's sheet: the class name with every character but ASCII letters, digits, '.', '-' and '_'
    /// made '_' (no leading '.', at most 100 characters), then ".png". A name that had to change also gets the first
    /// 8 hex digits of its SHA-256, so that two classes never share a file ("a b" and "a_b" differ).
    /// </summary>
    public static string FileName(string className)
    {
        var safe = new StringBuilder(className.Length);
        foreach (char c in className) safe.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_');
        if (safe.Length > 0 && safe[0] == '.') safe[0] = '_';
        if (safe.Length > 100) safe.Length = 100;
        var name = safe.ToString();
        if (name != className || name.Length == 0)
            name += "-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(className)))[..8];
        return name + ".png";
    }

    /// <summary>Where everything goes: the size, the section labels and the tiles in the order of the shown images
    /// (ascending weight).</summary>
    internal sealed record SheetLayout(int Width, int Height, IReadOnlyList<(string Text, SKRect Band)> Labels, IReadOnlyList<SKRectI> Tiles);

    internal static SheetLayout Plan(int count, int perRow, int tile)
    {
        int width = Math.Max(MinWidth, 2 * Margin + perRow * tile + (perRow - 1) * Gap);
        var sections = count < 2 * perRow
            ? new[] { ($"all {count} {(count == 1 ? "image" : "images")}, lowest weight first", count) }
            : [("lowest weights — likely outliers", perRow), ("highest weights", perRow)];
        var labels = new List<(string, SKRect)>();
        var tiles = new List<SKRectI>();
        int y = Margin + TitleHeight;
        for (int s = 0; s < sections.Length; s++)
        {
            var (text, n) = sections[s];
            if (s > 0) y += SectionGap;
            labels.Add((text, new SKRect(Margin, y, width - Margin, y + LabelHeight)));
            y += LabelHeight;
            for (int i = 0; i < n; i++)
            {
                int column = i % perRow, row = i / perRow;
                int x = Margin + column * (tile + Gap), top = y + row * (tile + CaptionHeight);
                tiles.Add(new SKRectI(x, top, x + tile, top + tile));
            }
            y += (n + perRow - 1) / perRow * (tile + CaptionHeight);
        }
        return new SheetLayout(width, y + Margin, labels, tiles);
    }

    /// <summary>Two decimals, as the paper's weights read in docs/METHODS.md, "Sample weights" ("2.6", "0.02"); two significant digits below 0.01,
    /// so that an outlier's 0.004 does not read as 0.</summary>
    internal static string FormatWeight(double weight) =>
        weight == 0 || Math.Abs(weight) >= 0.01
            ? weight.ToString("0.00", CultureInfo.InvariantCulture)
            : weight.ToString("G2", CultureInfo.InvariantCulture);

    /// <summary>The image fitted into its tile, or the grey "unreadable" tile; returns why it could not be read.</summary>
    private static string? DrawImage(SKCanvas canvas, string path, SKRectI tile)
    {
        RgbImage decoded;
        try { decoded = ImageDecoder.Decode(path, tile.Width, tile.Height); } // a large JPEG at a reduced scale
        catch (DataException e)
        {
            using var grey = new SKPaint { Color = UnreadableGround };
            canvas.DrawRect(tile, grey);
            using var font = new SKFont(Regular, Math.Clamp(tile.Width / 7f, 8, 14)) { Edging = SKFontEdging.Antialias };
            using var ink = new SKPaint { Color = Ink, IsAntialias = true };
            DrawText(canvas, "unreadable", tile, SKTextAlign.Center, font, ink);
            return e.Message;
        }

        using var ground = new SKPaint { Color = TileGround };
        canvas.DrawRect(tile, ground);
        using var bitmap = decoded.ToBitmap();
        using var image = SKImage.FromBitmap(bitmap);
        float scale = Math.Min((float)tile.Width / decoded.Width, (float)tile.Height / decoded.Height);
        float w = decoded.Width * scale, h = decoded.Height * scale;
        var target = SKRect.Create(tile.Left + (tile.Width - w) / 2, tile.Top + (tile.Height - h) / 2, w, h);
        canvas.DrawImage(image, target, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        return null;
    }

    /// <summary>One line of text centred vertically in <paramref name="band"/>, cut with "…" where it is too wide.</summary>
    private static void DrawText(SKCanvas canvas, string text, SKRect band, SKTextAlign align, SKFont font, SKPaint paint)
    {
        text = Fit(text, font, band.Width);
        var metrics = font.Metrics;
        float baseline = band.MidY - (metrics.Ascent + metrics.Descent) / 2; // Ascent is negative
        float x = align switch { SKTextAlign.Center => band.MidX, SKTextAlign.Right => band.Right, _ => band.Left };
        canvas.DrawText(text, x, baseline, align, font, paint);
    }

    private static string Fit(string text, SKFont font, float width)
    {
        if (font.MeasureText(text) <= width) return text;
        for (int keep = text.Length - 1; keep > 0; keep--)
            if (font.MeasureText(text[..keep] + "…") <= width) return text[..keep] + "…";
        return "…";
    }

    private static SKTypeface Typeface(SKFontStyle style) =>
        (PngFile.SansFont is { } family ? SKTypeface.FromFamilyName(family, style) : null) ?? SKTypeface.Default;
}

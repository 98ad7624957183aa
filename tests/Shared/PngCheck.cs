using SkiaSharp;

namespace Smile.Tests.Plots;

/// <summary>What a test can say about a picture without looking at it: it decodes, has the requested size, and is
/// not blank.</summary>
internal static class PngCheck
{
    public static SKColor[] Pixels(string path, int width, int height)
    {
        Assert.True(File.Exists(path), $"{path} was not written");
        using var bitmap = SKBitmap.Decode(path);
        Assert.NotNull(bitmap);
        Assert.Equal((width, height), (bitmap.Width, bitmap.Height));
        var pixels = bitmap.Pixels;
        // Text, axes and data in several colours. ScottPlot's empty plot (a frame, ticks and their anti-aliased
        // labels) has about 200 distinct colours and 94% background; the charts here have 600 and more.
        int distinct = pixels.Distinct().Count();
        Assert.True(distinct >= 400, $"{path}: only {distinct} distinct colours");
        int background = pixels.GroupBy(p => p).Max(g => g.Count());
        Assert.True(background < pixels.Length * 0.95, $"{path}: {100.0 * background / pixels.Length:F1}% of the pixels are one colour");
        return pixels;
    }

    /// <summary>Pixels within a small distance of <paramref name="color"/> (anti-aliasing blends the edges).</summary>
    public static int Near(SKColor[] pixels, SKColor color, int tolerance = 12) =>
        pixels.Count(p => Math.Abs(p.Red - color.Red) <= tolerance && Math.Abs(p.Green - color.Green) <= tolerance && Math.Abs(p.Blue - color.Blue) <= tolerance);
}

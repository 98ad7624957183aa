using ScottPlot;
using Smile.IO;

namespace Smile.Plots;

/// <summary>How every chart is written: a PNG that appears whole or not at all (a reader, or an image viewer
/// refreshing the file while training goes on, never sees half of one).</summary>
internal static class PngFile
{
    public const int MaxSide = 10_000;

    public static void CheckSize(int width, int height)
    {
        if (width < 100 || width > MaxSide) throw new ArgumentOutOfRangeException(nameof(width), width, $"a picture is 100 to {MaxSide} pixels wide");
        if (height < 100 || height > MaxSide) throw new ArgumentOutOfRangeException(nameof(height), height, $"a picture is 100 to {MaxSide} pixels high");
    }

    public static void Write(string path, Plot plot, int width, int height) =>
        AtomicFile.WriteAllBytes(path, plot.GetImageBytes(width, height, ImageFormat.Png));

    public static void Write(string path, Multiplot multiplot, int width, int height)
    {
        using var image = multiplot.Render(width, height);
        AtomicFile.WriteAllBytes(path, image.GetImageBytes(ImageFormat.Png, 100));
    }

    /// <summary>The same look for every chart: a sans-serif font where the machine has one (ScottPlot takes the
    /// system default, DejaVu Serif on Debian).</summary>
    public static void Style(Plot plot)
    {
        if (SansFont is { } font) plot.Font.Set(font);
    }

    /// <summary>The first of a few sans-serif families that is installed, or null (then the system default).</summary>
    internal static readonly string? SansFont = new[] { "DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial" }.FirstOrDefault(Installed);

    private static bool Installed(string family)
    {
        using var typeface = SkiaSharp.SKFontManager.Default.MatchFamily(family);
        return typeface is not null && typeface.FamilyName == family;
    }
}

using Smile.Data;
using Smile.Data.Prepare;

namespace Smile.Tests.Data.Prepare;

/// <summary>
/// An fgvc-aircraft-2013b folder in the official format: data/images/&lt;id&gt;.jpg with a 20-row banner at the
/// bottom, the class lists of the three levels (not in alphabetical order, one variant without images) and the
/// trainval/test lists of each level (for the FGVC-Aircraft tests of Smile.Core.Tests and `smile prepare aircraft` in
/// Smile.Cli.Tests).
/// </summary>
internal static class FgvcAircraftFixture
{
    public static readonly (string Id, string Variant, string Family, string Manufacturer, bool TrainVal)[] Images =
    [
        ("0034309", "707-320", "Boeing 707", "Boeing", true),
        ("0034958", "727-200", "Boeing 727", "Boeing", true),
        ("1125569", "F-16A/B", "F-16", "Lockheed Martin", true),
        ("0056978", "DC-3", "DC-3", "Douglas Aircraft Company", true),
        ("0062781", "Cessna 172", "Cessna 172", "Cessna", false),
        ("1514522", "F-16A/B", "F-16", "Lockheed Martin", false),
        ("0711234", "707-320", "Boeing 707", "Boeing", false),
    ];

    private static readonly string[] Variants = ["707-320", "727-200", "A300B4", "F-16A/B", "DC-3", "Cessna 172"];
    private static readonly string[] Families = ["Boeing 707", "Boeing 727", "F-16", "DC-3", "Cessna 172"];
    private static readonly string[] Manufacturers = ["Boeing", "Lockheed Martin", "Douglas Aircraft Company", "Cessna"];

    /// <summary>Writes the folder to <paramref name="source"/>.</summary>
    public static void Write(string source)
    {
        string data = Path.Combine(source, "data");
        Directory.CreateDirectory(Path.Combine(data, "images"));
        WriteLines(Path.Combine(data, "variants.txt"), Variants);
        WriteLines(Path.Combine(data, "families.txt"), Families);
        WriteLines(Path.Combine(data, "manufacturers.txt"), Manufacturers);
        foreach (string stem in new[] { "variant", "family", "manufacturer" })
        {
            string Line((string Id, string Variant, string Family, string Manufacturer, bool TrainVal) i) =>
                $"{i.Id} {stem switch { "variant" => i.Variant, "family" => i.Family, _ => i.Manufacturer }}";
            WriteLines(Path.Combine(data, $"images_{stem}_trainval.txt"), Images.Where(i => i.TrainVal).Select(Line));
            WriteLines(Path.Combine(data, $"images_{stem}_test.txt"), Images.Where(i => !i.TrainVal).Select(Line));
        }
        for (int n = 0; n < Images.Length; n++)
            SyntheticPhotos.WriteJpeg(Photo(24, 24 + 8 * (n % 3) + FgvcAircraft.BannerRows, n), ImagePath(source, Images[n].Id), quality: 95);
    }

    public static string ImagePath(string source, string id) => Path.Combine(source, "data", "images", id + ".jpg");

    // Unix line ends and a final newline, as in the official archive.
    public static void WriteLines(string path, IEnumerable<string> lines) => File.WriteAllText(path, string.Concat(lines.Select(l => l + "\n")));

    /// <summary>
    /// Smooth gradients above (red steep along y, 6 per row, so a crop off by rows shows) and a black banner with white
    /// "text" in the bottom 20 rows, like the official images.
    /// </summary>
    public static RgbImage Photo(int width, int height, int seed)
    {
        var image = new RgbImage(width, height);
        int photo = height - FgvcAircraft.BannerRows;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int o = (y * width + x) * 3;
                bool banner = y >= photo, text = banner && (x / 2 + y) % 3 == 0 && y > photo + 4 && y < height - 4;
                byte r = (byte)(6 * y), g = (byte)(30 + 8 * x), b = (byte)(60 + 20 * seed);
                (image.Pixels[o], image.Pixels[o + 1], image.Pixels[o + 2]) = banner ? text ? ((byte)255, (byte)255, (byte)255) : ((byte)0, (byte)0, (byte)0) : (r, g, b);
            }
        return image;
    }
}

using System.Text;

namespace Smile.Data.Prepare;

/// <summary>
/// FGVC-Aircraft (Maji et al. 2013) from the official fgvc-aircraft-2013b folder to train/ (the official
/// trainval list) and test/ ImageFolders at one of its three label levels (100 variants, 70 families,
/// 30 manufacturers; 6,667 trainval / 3,333 test images). Class folders are "NNN_name": the 1-based position in
/// the official class list (variants.txt, ...) keeps that order under ImageFolder's ordinal sort, and the name is
/// made safe for a folder ("F-16A/B" becomes "001_F-16A_B"). Images are hard-linked, or, with the banner
/// crop, decoded, cut and re-encoded.
/// </summary>
public static class FgvcAircraft
{
    public enum Level { Variant, Family, Manufacturer }

    public sealed record Options(Level Level, bool CropBanner);

    /// <summary>Rows of the copyright banner at the bottom of every image.</summary>
    public const int BannerRows = 20;

    /// <summary>The level as the command line names it ("variant", "family", "manufacturer"), or null.</summary>
    public static Level? ParseLevel(string text) => text switch
    {
        "variant" => Level.Variant,
        "family" => Level.Family,
        "manufacturer" => Level.Manufacturer,
        _ => null,
    };

    public static ImageFolderPlan Plan(string sourceFolder, Options options)
    {
        string data = Path.Combine(sourceFolder, "data");
        var (stem, listFile) = options.Level switch
        {
            Level.Variant => ("variant", "variants.txt"),
            Level.Family => ("family", "families.txt"),
            Level.Manufacturer => ("manufacturer", "manufacturers.txt"),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Level, "unknown FGVC-Aircraft level"),
        };
        var folders = ClassFolders(Path.Combine(data, listFile));
        var trainval = IdValueFile.Read(Path.Combine(data, $"images_{stem}_trainval.txt"));
        var test = IdValueFile.Read(Path.Combine(data, $"images_{stem}_test.txt"));
        // An image in both lists would be trained and tested on.
        foreach (var line in test.Lines)
            if (trainval.TryGet(line.Id, out var other))
                throw test.Error(line.Line, $"image {line.Id} is also in {trainval.Path} (line {other.Line})");

        var plan = new ImageFolderPlan();
        string images = Path.Combine(data, "images");
        AddSplit(plan, "train", trainval, folders, images, options.CropBanner);
        AddSplit(plan, "test", test, folders, images, options.CropBanner);
        return plan;
    }

    private static void AddSplit(ImageFolderPlan plan, string split, IdValueFile list, Dictionary<string, string> folders, string images, bool crop)
    {
        foreach (var line in list.Lines)
        {
            // Official ids are 7 digits; anything that could leave images/ or hide a file is refused.
            if (!line.Id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                throw list.Error(line.Line, $"malformed line, '{line.Id}' is not an image id");
            if (!folders.TryGetValue(line.Value, out var folder))
                throw list.Error(line.Line, $"unknown class '{line.Value}' (not in the level's class list)");
            string fileName = line.Id + ".jpg";
            string source = Path.Combine(images, fileName);
            if (!crop)
            {
                plan.AddFile(split, folder, fileName, source);
                continue;
            }
            // The header alone, now: a short image then fails before anything is written.
            if (!File.Exists(source)) throw list.Error(line.Line, $"image listed by the dataset's index is missing: {source}");
            var (_, height) = ImageDecoder.ReadSize(source);
            if (height <= BannerRows)
                throw new DataException($"{source}: image is only {height} pixels high, too short to remove the {BannerRows}-pixel banner");
            plan.AddGenerated(split, folder, fileName, () => BannerCrop.Crop(source, BannerRows));
        }
    }

    /// <summary>The official class list, one name per line, to folder names in that order.</summary>
    private static Dictionary<string, string> ClassFolders(string path)
    {
        var names = new List<string>();
        var lineOf = new Dictionary<string, int>(StringComparer.Ordinal);
        int number = 0;
        foreach (string text in IdValueFile.ReadLines(path))
        {
            number++;
            string name = text.Trim();
            if (name.Length == 0) continue;
            if (!lineOf.TryAdd(name, number))
                throw new DataException($"{path}:{number}: class '{name}' is listed twice (first on line {lineOf[name]})");
            names.Add(name);
        }
        if (names.Count == 0) throw new DataException($"{path}: the class list is empty");
        var folders = FolderNames(names);
        return names.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => folders[p.i], StringComparer.Ordinal);
    }

    /// <summary>
    /// "NNN_name" per class, NNN its 1-based position zero-padded to one width (at least 3 digits), so ordinal
    /// sorting gives the list's order and the names stay unique even where sanitizing makes two names equal.
    /// </summary>
    public static string[] FolderNames(IReadOnlyList<string> classNames)
    {
        int width = Math.Max(3, classNames.Count.ToString().Length);
        return classNames.Select((name, i) => $"{(i + 1).ToString().PadLeft(width, '0')}_{Sanitize(name)}").ToArray();
    }

    // Letters, digits, '-', '.', '+' and '_' survive; spaces, '/' and the rest become '_' (safe in any shell and file system).
    private static string Sanitize(string name)
    {
        var safe = new StringBuilder(name.Length);
        foreach (char c in name) safe.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '+' or '_' ? c : '_');
        return safe.ToString();
    }
}

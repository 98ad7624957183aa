using Smile.Data;

namespace Smile.Tests.Data.Prepare;

/// <summary>A CUB_200_2011 folder in the official format: 3 classes, 5 tiny JPEGs, the four index files (for the
/// CUB tests of Smile.Core.Tests and `smile prepare cub` in Smile.Cli.Tests).</summary>
internal static class CubFixture
{
    // id, relative path under images/, class id, 1 = train / 0 = test
    public static readonly (int Id, string Path, int Class, int Train)[] Images =
    [
        (1, "001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg", 1, 1),
        (2, "001.Black_footed_Albatross/Black_Footed_Albatross_0009_34.jpg", 1, 0),
        (3, "002.Laysan_Albatross/Laysan_Albatross_0002_1027.jpg", 2, 1),
        (4, "002.Laysan_Albatross/Laysan_Albatross_0003_1033.jpg", 2, 1),
        (5, "003.Sooty_Albatross/Sooty_Albatross_0001_1071.jpg", 3, 0),
    ];

    /// <summary>Writes the folder to <paramref name="source"/>.</summary>
    public static void Write(string source)
    {
        Directory.CreateDirectory(source);
        WriteLines(source, "classes.txt", ["1 001.Black_footed_Albatross", "2 002.Laysan_Albatross", "3 003.Sooty_Albatross"]);
        WriteLines(source, "images.txt", Images.Select(i => $"{i.Id} {i.Path}"));
        WriteLines(source, "image_class_labels.txt", Images.Select(i => $"{i.Id} {i.Class}"));
        WriteLines(source, "train_test_split.txt", Images.Select(i => $"{i.Id} {i.Train}"));
        foreach (var image in Images)
        {
            string path = Path.Combine(source, "images", image.Path);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            SyntheticPhotos.WriteJpeg(SyntheticPhotos.Render(6, 5, image.Id), path);
        }
    }

    // Unix line ends and a final newline, as in the official archive.
    public static void WriteLines(string source, string file, IEnumerable<string> lines) =>
        File.WriteAllText(Path.Combine(source, file), string.Concat(lines.Select(l => l + "\n")));
}

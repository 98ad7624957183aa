using System.Text.Json;
using Smile.Data;

namespace Smile.Tests.Data.Prepare;

/// <summary>
/// A tiny Stanford Cars: the devkit's .mat files written by scipy.io.savemat in the official structure
/// (tests/Smile.Core.Tests/python/make_cars_devkit.py), tiny JPEGs under cars_train/ and cars_test/ (official test
/// file names restart at 00001.jpg, as here); for the Stanford Cars tests of Smile.Core.Tests and `smile prepare cars`
/// in Smile.Cli.Tests.
/// </summary>
internal static class StanfordCarsFixture
{
    private static readonly string[] Classes = ["AM General Hummer SUV 2000", "Ram C/V Cargo Van Minivan 2012", "smart fortwo Convertible 2012"];
    private static readonly (string, int)[] Train = [("00001.jpg", 1), ("00002.jpg", 2), ("00003.jpg", 3), ("00004.jpg", 2), ("00005.jpg", 1)];
    private static readonly (string, int)[] Test = [("00001.jpg", 3), ("00002.jpg", 1), ("00003.jpg", 2)];

    /// <summary>The prepared folder of the default data set, as "split/class/file".</summary>
    public static readonly string[] ExpectedTree =
    [
        "test/001_AM General Hummer SUV 2000/00002.jpg",
        "test/002_Ram C-V Cargo Van Minivan 2012/00003.jpg",
        "test/003_smart fortwo Convertible 2012/00001.jpg",
        "train/001_AM General Hummer SUV 2000/00001.jpg",
        "train/001_AM General Hummer SUV 2000/00005.jpg",
        "train/002_Ram C-V Cargo Van Minivan 2012/00002.jpg",
        "train/002_Ram C-V Cargo Van Minivan 2012/00004.jpg",
        "train/003_smart fortwo Convertible 2012/00003.jpg",
    ];

    /// <summary>Writes the data set to <paramref name="source"/>: the test annotations in the root or in devkit/
    /// (<paramref name="testAnnotationsIn"/>), other class names or training records when given.</summary>
    public static void Write(string source, string testAnnotationsIn = "root", string[]? classes = null, (string, int)[]? train = null)
    {
        train ??= Train;
        var spec = new
        {
            classes = classes ?? Classes,
            train = train.Select(r => new object[] { r.Item1, r.Item2 }),
            test = Test.Select(r => new object[] { r.Item1, r.Item2 }),
            test_annotations_in = testAnnotationsIn,
        };
        PythonRunner.Run("make_cars_devkit.py", JsonSerializer.Serialize(spec), source);
        int seed = 0;
        foreach (var (folder, records) in new[] { ("cars_train", train), ("cars_test", Test) })
        {
            Directory.CreateDirectory(Path.Combine(source, folder));
            foreach (var (fname, _) in records)
                SyntheticPhotos.WriteJpeg(SyntheticPhotos.Render(12, 8, ++seed), Path.Combine(source, folder, fname));
        }
    }
}

using Smile.Data;
using Smile.Data.Prepare;

namespace Smile.Tests.Data.Prepare;

/// <summary>A CUB_200_2011 folder in the official format: 3 classes, 5 tiny JPEGs, the four index files.</summary>
public sealed class CubTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("smile-cub-");
    public void Dispose() => _temp.Delete(recursive: true);

    private string Source => Path.Combine(_temp.FullName, "CUB_200_2011");
    private string Output => Path.Combine(_temp.FullName, "out");

    public CubTests() => CubFixture.Write(Source);

    private void WriteLines(string file, IEnumerable<string> lines) => CubFixture.WriteLines(Source, file, lines);

    private void EditLine(string file, int line, string? replacement)
    {
        var lines = File.ReadAllLines(Path.Combine(Source, file)).ToList();
        if (replacement is null) lines.RemoveAt(line - 1); else lines[line - 1] = replacement;
        WriteLines(file, lines);
    }

    private void AppendLine(string file, string text) => File.AppendAllText(Path.Combine(Source, file), text + "\n");

    private static string[] Tree(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f)).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void LinksEveryImageIntoItsSplitAndClassThenChangesNothingOnASecondRun()
    {
        var first = ImageFolderWriter.Write(Cub.Plan(Source), Output);
        Assert.Equal([
            "test/001.Black_footed_Albatross/Black_Footed_Albatross_0009_34.jpg",
            "test/003.Sooty_Albatross/Sooty_Albatross_0001_1071.jpg",
            "train/001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg",
            "train/002.Laysan_Albatross/Laysan_Albatross_0002_1027.jpg",
            "train/002.Laysan_Albatross/Laysan_Albatross_0003_1033.jpg",
        ], Tree(Output));
        Assert.Equal(5, first.Linked + first.Copied);
        Assert.Equal([("test", 2, 2), ("train", 2, 3)], first.Counts);
        foreach (var image in CubFixture.Images)
        {
            string split = image.Train == 1 ? "train" : "test";
            Assert.Equal(File.ReadAllBytes(Path.Combine(Source, "images", image.Path)), File.ReadAllBytes(Path.Combine(Output, split, image.Path)));
        }

        var second = ImageFolderWriter.Write(Cub.Plan(Source), Output);
        Assert.Equal(5, second.Unchanged);
        Assert.Equal(0, second.Linked + second.Copied + second.Generated);
    }

    [Fact]
    public void ClassFoldersComeFromClassesTxtNotFromTheImagePaths()
    {
        EditLine("classes.txt", 2, "2 002.Laysan_Albatross_renamed");
        ImageFolderWriter.Write(Cub.Plan(Source), Output);
        Assert.Equal(["001.Black_footed_Albatross", "002.Laysan_Albatross_renamed"], ImageFolder.ForTraining(Path.Combine(Output, "train")).Classes);
    }

    [Theory]
    [InlineData("images.txt", 3, "3", "malformed line")]
    [InlineData("images.txt", 4, "4 ../../secret.jpg", "not a relative path inside images/")]
    [InlineData("image_class_labels.txt", 2, "2", "malformed line")]
    [InlineData("image_class_labels.txt", 5, "5 7", "unknown class 7")]
    [InlineData("train_test_split.txt", 2, "2 2", "expected 1 (train) or 0 (test)")]
    [InlineData("classes.txt", 3, "3 a/b", "cannot be a folder name")]
    [InlineData("classes.txt", 2, "1 002.Laysan_Albatross", "duplicate id 1 (first on line 1)")]
    public void ABadLineIsNamedWithItsFileAndLine(string file, int line, string replacement, string reason)
    {
        EditLine(file, line, replacement);
        var error = Assert.Throws<DataException>(() => Cub.Plan(Source));
        Assert.StartsWith($"{Path.Combine(Source, file)}:{line}: ", error.Message);
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void ADuplicateIdIsNamedAtItsSecondLine()
    {
        AppendLine("train_test_split.txt", "3 0");
        var error = Assert.Throws<DataException>(() => Cub.Plan(Source));
        Assert.Equal($"{Path.Combine(Source, "train_test_split.txt")}:6: duplicate id 3 (first on line 3)", error.Message);
    }

    [Fact]
    public void AnIdMissingFromOneFileIsNamedWhereItAppears()
    {
        EditLine("image_class_labels.txt", 4, null);
        var missing = Assert.Throws<DataException>(() => Cub.Plan(Source));
        Assert.Equal($"{Path.Combine(Source, "images.txt")}:4: id 4 has no line in {Path.Combine(Source, "image_class_labels.txt")}", missing.Message);

        WriteLines("image_class_labels.txt", CubFixture.Images.Select(i => $"{i.Id} {i.Class}"));
        AppendLine("train_test_split.txt", "6 1");
        var extra = Assert.Throws<DataException>(() => Cub.Plan(Source));
        Assert.Equal($"{Path.Combine(Source, "train_test_split.txt")}:6: id 6 has no line in {Path.Combine(Source, "images.txt")}", extra.Message);
    }

    [Fact]
    public void AMissingIndexFileOrImageIsNamedAndNothingIsWritten()
    {
        File.Delete(Path.Combine(Source, "classes.txt"));
        var index = Assert.Throws<DataException>(() => Cub.Plan(Source));
        Assert.Equal($"{Path.Combine(Source, "classes.txt")}: file not found", index.Message);

        WriteLines("classes.txt", ["1 001.Black_footed_Albatross", "2 002.Laysan_Albatross", "3 003.Sooty_Albatross"]);
        string image = Path.Combine(Source, "images", CubFixture.Images[3].Path);
        File.Delete(image);
        var plan = Cub.Plan(Source);
        var error = Assert.Throws<DataException>(() => ImageFolderWriter.Write(plan, Output));
        Assert.Contains(image, error.Message);
        Assert.False(Directory.Exists(Output) && Tree(Output).Length > 0);
    }
}

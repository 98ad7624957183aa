using Smile.Data;
using Smile.Data.Prepare;

namespace Smile.Tests.Data.Prepare;

/// <summary>
/// An fgvc-aircraft-2013b folder in the official format: data/images/&lt;id&gt;.jpg with a 20-row banner at the
/// bottom, the class lists of the three levels (not in alphabetical order, one variant without images) and the
/// trainval/test lists of each level.
/// </summary>
public sealed class FgvcAircraftTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("smile-aircraft-");
    public void Dispose() => _temp.Delete(recursive: true);

    private string Source => Path.Combine(_temp.FullName, "fgvc-aircraft-2013b");
    private string Data => Path.Combine(Source, "data");
    private string Output => Path.Combine(_temp.FullName, "out");

    public FgvcAircraftTests() => FgvcAircraftFixture.Write(Source);

    private static string[] Tree(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f)).Order(StringComparer.Ordinal).ToArray();

    private static readonly string[] VariantTree =
    [
        "test/001_707-320/0711234.jpg", "test/004_F-16A_B/1514522.jpg", "test/006_Cessna_172/0062781.jpg",
        "train/001_707-320/0034309.jpg", "train/002_727-200/0034958.jpg", "train/004_F-16A_B/1125569.jpg", "train/005_DC-3/0056978.jpg",
    ];

    public static TheoryData<FgvcAircraft.Level, string[]> LevelTrees => new()
    {
        { FgvcAircraft.Level.Variant, VariantTree },
        { FgvcAircraft.Level.Family, [
            "test/001_Boeing_707/0711234.jpg", "test/003_F-16/1514522.jpg", "test/005_Cessna_172/0062781.jpg",
            "train/001_Boeing_707/0034309.jpg", "train/002_Boeing_727/0034958.jpg", "train/003_F-16/1125569.jpg", "train/004_DC-3/0056978.jpg"] },
        { FgvcAircraft.Level.Manufacturer, [
            "test/001_Boeing/0711234.jpg", "test/002_Lockheed_Martin/1514522.jpg", "test/004_Cessna/0062781.jpg",
            "train/001_Boeing/0034309.jpg", "train/001_Boeing/0034958.jpg", "train/002_Lockheed_Martin/1125569.jpg", "train/003_Douglas_Aircraft_Company/0056978.jpg"] },
    };

    [Theory]
    [MemberData(nameof(LevelTrees))]
    public void EachLevelLinksTheImagesIntoItsClassesInTheOfficialOrder(FgvcAircraft.Level level, string[] expected)
    {
        var first = ImageFolderWriter.Write(FgvcAircraft.Plan(Source, new FgvcAircraft.Options(level, CropBanner: false)), Output);
        Assert.Equal(expected, Tree(Output));
        Assert.Equal(7, first.Linked + first.Copied);
        foreach (string file in expected)
            Assert.Equal(File.ReadAllBytes(FgvcAircraftFixture.ImagePath(Source, Path.GetFileNameWithoutExtension(file))), File.ReadAllBytes(Path.Combine(Output, file)));
        // ImageFolder's ordinal sort gives the official list's order (not the alphabetical order of the names).
        var listed = expected.Where(f => f.StartsWith("train/")).Select(f => f.Split('/')[1]).Distinct().ToArray();
        Assert.Equal(listed, ImageFolder.ForTraining(Path.Combine(Output, "train")).Classes);

        var second = ImageFolderWriter.Write(FgvcAircraft.Plan(Source, new FgvcAircraft.Options(level, CropBanner: false)), Output);
        Assert.Equal(7, second.Unchanged);
        Assert.Equal(0, second.Linked + second.Copied + second.Generated);
    }

    [Fact]
    public void TheBannerCropRemovesTheBottom20RowsAndKeepsTheRestThenChangesNothingOnASecondRun()
    {
        var options = new FgvcAircraft.Options(FgvcAircraft.Level.Variant, CropBanner: true);
        var first = ImageFolderWriter.Write(FgvcAircraft.Plan(Source, options), Output);
        Assert.Equal(7, first.Generated);
        string[] tree = Tree(Output);
        Assert.Equal(VariantTree, tree);

        foreach (string file in tree)
        {
            byte[] bytes = File.ReadAllBytes(Path.Combine(Output, file));
            Assert.Equal(new byte[] { 0xFF, 0xD8 }, bytes[..2]); // JPEG
            var source = ImageDecoder.Decode(FgvcAircraftFixture.ImagePath(Source, Path.GetFileNameWithoutExtension(file)));
            var cropped = ImageDecoder.Decode(bytes, file);
            Assert.Equal((source.Width, source.Height - FgvcAircraft.BannerRows), (cropped.Width, cropped.Height));
            // The kept rows are the source's top rows within the error of a quality-95 re-encoding, row by row
            // (the red gradient differs by 6 per row, the banner is black and white).
            for (int y = 0; y < cropped.Height; y++)
            {
                double error = 0;
                for (int i = y * cropped.Width * 3; i < (y + 1) * cropped.Width * 3; i++) error += Math.Abs(source.Pixels[i] - cropped.Pixels[i]);
                error /= cropped.Width * 3;
                // The last rows decoded from the source blended in the banner's (upsampled) chroma; cut, they cannot.
                double tolerance = y >= cropped.Height - 3 ? 10 : 2.5;
                Assert.True(error < tolerance, $"{file} row {y}: mean absolute error {error:F2}");
            }
        }

        var second = ImageFolderWriter.Write(FgvcAircraft.Plan(Source, options), Output);
        Assert.Equal(7, second.Unchanged);
        Assert.Equal(0, second.Generated);
    }

    [Fact]
    public void AnImageTooShortForTheCropIsNamedOnlyWhenCropping()
    {
        string image = FgvcAircraftFixture.ImagePath(Source, "0056978");
        SyntheticPhotos.WriteJpeg(FgvcAircraftFixture.Photo(16, FgvcAircraft.BannerRows, 0), image);
        var error = Assert.Throws<DataException>(() => FgvcAircraft.Plan(Source, new FgvcAircraft.Options(FgvcAircraft.Level.Variant, CropBanner: true)));
        Assert.Equal($"{image}: image is only 20 pixels high, too short to remove the 20-pixel banner", error.Message);
        Assert.False(Directory.Exists(Output));

        ImageFolderWriter.Write(FgvcAircraft.Plan(Source, new FgvcAircraft.Options(FgvcAircraft.Level.Variant, CropBanner: false)), Output);
        Assert.Equal(20, ImageDecoder.ReadSize(Path.Combine(Output, "train/005_DC-3/0056978.jpg")).Height);

        // One row above the banner is enough.
        SyntheticPhotos.WriteJpeg(FgvcAircraftFixture.Photo(16, FgvcAircraft.BannerRows + 1, 0), image);
        string cropped = Path.Combine(_temp.FullName, "cropped");
        ImageFolderWriter.Write(FgvcAircraft.Plan(Source, new FgvcAircraft.Options(FgvcAircraft.Level.Variant, CropBanner: true)), cropped);
        Assert.Equal((16, 1), ImageDecoder.ReadSize(Path.Combine(cropped, "train/005_DC-3/0056978.jpg")));
    }

    [Fact]
    public void FolderNamesKeepTheListOrderUnderOrdinalSortingAndStayUnique()
    {
        Assert.Equal(["001_F_A-18", "002_F_A-18", "003_Boeing_707-320", "004_DHC-1", "005_Hawk_T1_", "006_A_"],
            FgvcAircraft.FolderNames(["F/A-18", "F_A-18", "Boeing 707-320", "DHC-1", "Hawk T1\\", "A\u00e9"]));

        // Past 999 classes the index widens for every name, so "1000_" does not sort before "100_".
        var names = Enumerable.Range(0, 1200).Select(i => $"z{1200 - i}").ToArray();
        var folders = FgvcAircraft.FolderNames(names);
        Assert.Equal("0001_z1200", folders[0]);
        Assert.Equal(folders, folders.Order(StringComparer.Ordinal));
        Assert.Equal(folders.Length, folders.Distinct().Count());
    }

    [Theory]
    [InlineData("images_variant_trainval.txt", 1, "0034309", "malformed line")]
    [InlineData("images_variant_trainval.txt", 2, "0034958 F-16C", "unknown class 'F-16C'")]
    [InlineData("images_variant_trainval.txt", 3, "../../x F-16A/B", "'../../x' is not an image id")]
    [InlineData("images_variant_test.txt", 2, "0062781 DC-3", "duplicate id 0062781 (first on line 1)")]
    [InlineData("images_variant_test.txt", 3, "0034309 707-320", "image 0034309 is also in")]
    [InlineData("variants.txt", 5, "707-320", "class '707-320' is listed twice (first on line 1)")]
    public void ABadLineIsNamedWithItsFileAndLine(string file, int line, string replacement, string reason)
    {
        string path = Path.Combine(Data, file);
        var lines = File.ReadAllLines(path);
        lines[line - 1] = replacement;
        FgvcAircraftFixture.WriteLines(path, lines);
        foreach (bool crop in new[] { false, true })
        {
            var error = Assert.Throws<DataException>(() => FgvcAircraft.Plan(Source, new FgvcAircraft.Options(FgvcAircraft.Level.Variant, crop)));
            Assert.StartsWith($"{path}:{line}: ", error.Message);
            Assert.Contains(reason, error.Message);
        }
    }

    [Fact]
    public void MissingFilesAreNamed()
    {
        File.Delete(Path.Combine(Data, "families.txt"));
        var list = Assert.Throws<DataException>(() => FgvcAircraft.Plan(Source, new FgvcAircraft.Options(FgvcAircraft.Level.Family, false)));
        Assert.Equal($"{Path.Combine(Data, "families.txt")}: file not found", list.Message);

        File.Delete(Path.Combine(Data, "images_manufacturer_test.txt"));
        var split = Assert.Throws<DataException>(() => FgvcAircraft.Plan(Source, new FgvcAircraft.Options(FgvcAircraft.Level.Manufacturer, false)));
        Assert.Equal($"{Path.Combine(Data, "images_manufacturer_test.txt")}: file not found", split.Message);

        // A missing image: the writer names it before writing anything; with the crop, the plan names it and the line.
        string image = FgvcAircraftFixture.ImagePath(Source, "1514522");
        File.Delete(image);
        var plan = FgvcAircraft.Plan(Source, new FgvcAircraft.Options(FgvcAircraft.Level.Variant, false));
        var linked = Assert.Throws<DataException>(() => ImageFolderWriter.Write(plan, Output));
        Assert.Contains(image, linked.Message);
        Assert.False(Directory.Exists(Output) && Tree(Output).Length > 0);
        var cropped = Assert.Throws<DataException>(() => FgvcAircraft.Plan(Source, new FgvcAircraft.Options(FgvcAircraft.Level.Variant, true)));
        Assert.Equal($"{Path.Combine(Data, "images_variant_test.txt")}:2: image listed by the dataset's index is missing: {image}", cropped.Message);
    }

    [Fact]
    public void LevelNamesParseAsTheCommandLineWritesThem()
    {
        Assert.Equal(FgvcAircraft.Level.Variant, FgvcAircraft.ParseLevel("variant"));
        Assert.Equal(FgvcAircraft.Level.Family, FgvcAircraft.ParseLevel("family"));
        Assert.Equal(FgvcAircraft.Level.Manufacturer, FgvcAircraft.ParseLevel("manufacturer"));
        Assert.Null(FgvcAircraft.ParseLevel("model"));
        Assert.Null(FgvcAircraft.ParseLevel("1"));
    }
}

using Smile.Data;
using Smile.Data.Prepare;

namespace Smile.Tests.Data.Prepare;

/// <summary>Stanford Cars preparation on the tiny data set of <see cref="StanfordCarsFixture"/>.</summary>
public sealed class StanfordCarsTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("smile-cars-");
    public void Dispose() => _temp.Delete(recursive: true);

    private string Source => Path.Combine(_temp.FullName, "stanford_cars");
    private string Output => Path.Combine(_temp.FullName, "out");

    private void WriteDataset(string testAnnotationsIn = "root", string[]? classes = null, (string, int)[]? train = null) =>
        StanfordCarsFixture.Write(Source, testAnnotationsIn, classes, train);

    private static string[] Tree(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f)).Order(StringComparer.Ordinal).ToArray();

    [Theory]
    [InlineData("root")]
    [InlineData("devkit")]
    public void WritesBothSplitsInTheOfficialLabelOrderAndASecondRunChangesNothing(string testAnnotationsIn)
    {
        WriteDataset(testAnnotationsIn);
        var first = ImageFolderWriter.Write(StanfordCars.Plan(Source), Output);
        Assert.Equal(StanfordCarsFixture.ExpectedTree, Tree(Output));
        Assert.Equal(8, first.Linked + first.Copied);
        Assert.Equal([("test", 3, 3), ("train", 3, 5)], first.Counts);
        Assert.Equal(File.ReadAllBytes(Path.Combine(Source, "cars_test/00003.jpg")),
            File.ReadAllBytes(Path.Combine(Output, "test/002_Ram C-V Cargo Van Minivan 2012/00003.jpg")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(Source, "cars_train/00003.jpg")),
            File.ReadAllBytes(Path.Combine(Output, "train/003_smart fortwo Convertible 2012/00003.jpg")));
        Assert.Equal(["001_AM General Hummer SUV 2000", "002_Ram C-V Cargo Van Minivan 2012", "003_smart fortwo Convertible 2012"],
            ImageFolder.ForTraining(Path.Combine(Output, "train")).Classes);

        var second = ImageFolderWriter.Write(StanfordCars.Plan(Source), Output);
        Assert.Equal(8, second.Unchanged);
        Assert.Equal(0, second.Linked + second.Copied + second.Generated);
        Assert.Equal(StanfordCarsFixture.ExpectedTree, Tree(Output));
    }

    [Fact]
    public void AMissingImageNamesTheAnnotationFileTheRecordAndTheFileName()
    {
        WriteDataset();
        File.Delete(Path.Combine(Source, "cars_train/00004.jpg"));
        var error = Assert.Throws<DataException>(() => StanfordCars.Plan(Source));
        Assert.StartsWith(Path.Combine(Source, "devkit", "cars_train_annos.mat") + ": annotations(4) (fname '00004.jpg')", error.Message);
        Assert.Contains(Path.Combine(Source, "cars_train", "00004.jpg"), error.Message);
    }

    [Fact]
    public void AClassOutOfRangeNamesTheRecord()
    {
        WriteDataset(train: [("00001.jpg", 1), ("00002.jpg", 4)]);
        var error = Assert.Throws<DataException>(() => StanfordCars.Plan(Source));
        Assert.StartsWith(Path.Combine(Source, "devkit", "cars_train_annos.mat") + ": annotations(2) (fname '00002.jpg')", error.Message);
        Assert.Contains("class 4", error.Message);
        Assert.Contains("1..3", error.Message);
    }

    [Fact]
    public void AMissingAnnotationFileNamesWhereItLooked()
    {
        WriteDataset();
        File.Move(Path.Combine(Source, "cars_test_annos_withlabels.mat"), Path.Combine(Source, "cars_test_annos.mat"));
        var error = Assert.Throws<DataException>(() => StanfordCars.Plan(Source));
        Assert.Contains("cars_test_annos_withlabels.mat", error.Message);
        Assert.Contains($"{Source} or {Path.Combine(Source, "devkit")}", error.Message);
        Assert.Contains("no labels", error.Message); // the unlabelled file is there: say why it is not enough

        File.Delete(Path.Combine(Source, "devkit", "cars_meta.mat"));
        Assert.Contains("cars_meta.mat", Assert.Throws<DataException>(() => StanfordCars.Plan(Source)).Message);
    }

    [Fact]
    public void ClassNamesThatBecomeTheSameFolderNameAreRefused()
    {
        WriteDataset(classes: ["Ram C/V 2012", "Ram C-V 2012", "Other"]);
        var error = Assert.Throws<DataException>(() => StanfordCars.Plan(Source));
        Assert.StartsWith(Path.Combine(Source, "devkit", "cars_meta.mat") + ":", error.Message);
        Assert.Contains("class_names{1} and class_names{2}", error.Message);
    }

    [Fact]
    public void FolderNamesKeepTheLabelOrderAndReplaceUnsafeCharacters()
    {
        Assert.Equal("002_Ram C-V Cargo Van Minivan 2012", StanfordCars.FolderName(2, 196, "Ram C/V Cargo Van Minivan 2012"));
        Assert.Equal("196_Volvo XC90 SUV 2007", StanfordCars.FolderName(196, 196, "Volvo XC90 SUV 2007"));
        Assert.Equal("007_a-b-c-d-e", StanfordCars.FolderName(7, 196, " a\\b:c*d?e. "));
        Assert.Equal("0042_x", StanfordCars.FolderName(42, 1000, "x"));
    }
}

using Smile.Data;

namespace Smile.Tests.Data;

/// <summary>`smile split`'s split (<see cref="DatasetSplit"/>): stratified, seeded, the run's own held-out split, nested subsets.</summary>
public sealed class DatasetSplitTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("smile-split-");
    public void Dispose() => _temp.Delete(recursive: true);

    private ImageFolder Folder(params int[] perClass)
    {
        for (int c = 0; c < perClass.Length; c++)
        {
            var dir = Directory.CreateDirectory(Path.Combine(_temp.FullName, $"c{c}")).FullName;
            for (int i = 0; i < perClass[c]; i++) File.WriteAllBytes(Path.Combine(dir, $"{i:D3}.jpg"), [1]);
        }
        return ImageFolder.ForTraining(_temp.FullName);
    }

    private static string[] Paths(ImageFolder? data) => data!.Samples.Select(s => s.Path).ToArray();
    private static int[] Counts(ImageFolder? data) => Enumerable.Range(0, data!.Classes.Count).Select(data.CountOf).ToArray();

    [Fact]
    public void SplitsEveryClassByTheFractionAsTheRunsOwnSplitDoes()
    {
        var folder = Folder(10, 5, 2, 1);
        var split = DatasetSplit.Split(folder, 0.2, seed: 7);
        Assert.Equal([2, 1, 1, 0], Counts(split.Validation));
        Assert.Equal([8, 4, 1, 1], Counts(split.Train)); // the single image stays for training
        Assert.Equal("class 'c3' has 1 image: kept for training, none held out", Assert.Single(split.Notes));
        Assert.Empty(Paths(split.Train).Intersect(Paths(split.Validation)));

        // On classes of 2 or more, what --val_split holds out with the same seed.
        var two = folder.Subset(folder.Samples.Where(s => s.Label < 3));
        var run = ValidationSplit.Split(two, 0.2, seed: 7);
        Assert.Equal(Paths(run.Validation), Paths(DatasetSplit.Split(two, 0.2, seed: 7).Validation));
        Assert.Equal(Paths(run.Train), Paths(DatasetSplit.Split(two, 0.2, seed: 7).Train));
    }

    [Fact]
    public void TheSameSeedGivesTheSameSplitAndAnotherSeedAnother()
    {
        var folder = Folder(20, 20);
        var a = DatasetSplit.Split(folder, 0.3, seed: 1);
        Assert.Equal(Paths(a.Validation), Paths(DatasetSplit.Split(folder, 0.3, seed: 1).Validation));
        Assert.NotEqual(Paths(a.Validation), Paths(DatasetSplit.Split(folder, 0.3, seed: 2).Validation));
    }

    [Fact]
    public void SubsetsOfTheTrainingPartAreStratifiedAndNestedForOneSeed()
    {
        var folder = Folder(21, 11, 3);
        var full = DatasetSplit.Split(folder, 0.1, seed: 4);
        Assert.Equal([19, 10, 2], Counts(full.Train));
        var fifteen = DatasetSplit.Split(folder, 0.1, seed: 4, new SubsetSize(Fraction: 0.15));
        var half = DatasetSplit.Split(folder, 0.1, seed: 4, new SubsetSize(Fraction: 0.5));
        Assert.Equal([3, 2, 1], Counts(fifteen.Train)); // round(2.85), round(1.5), at least 1
        Assert.Equal([10, 5, 1], Counts(half.Train));
        Assert.Equal(31, half.TrainingPartCount);
        Assert.Equal(Paths(full.Validation), Paths(half.Validation)); // the subset never touches the validation part
        Assert.Subset(Paths(half.Train).ToHashSet(), Paths(fifteen.Train).ToHashSet());
        Assert.Subset(Paths(full.Train).ToHashSet(), Paths(half.Train).ToHashSet());

        var perClass = DatasetSplit.Split(folder, 0, seed: 4, new SubsetSize(PerClass: 5));
        Assert.Null(perClass.Validation);
        Assert.Equal([5, 5, 3], Counts(perClass.Train));
        Assert.Equal("class 'c2' has 3 training images, fewer than 5: all kept", Assert.Single(perClass.Notes));
    }
}

using Smile.Data;

namespace Smile.Tests.Data;

public sealed class ValidationSplitTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("smile-valsplit-");
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

    [Fact]
    public void HoldsOutTheFractionOfEveryClassDisjointlyAndReproducibly()
    {
        var folder = Folder(10, 5, 2);
        var (train, val) = ValidationSplit.Split(folder, 0.2, seed: 3);
        Assert.Equal([2, 1, 1], Enumerable.Range(0, 3).Select(val.CountOf)); // round(2.0), round(1.0), at least 1
        Assert.Equal([8, 4, 1], Enumerable.Range(0, 3).Select(train.CountOf));
        Assert.Empty(train.Samples.Select(s => s.Path).Intersect(val.Samples.Select(s => s.Path)));
        Assert.Equal(folder.Samples.Select(s => s.Path).Order(), train.Samples.Concat(val.Samples).Select(s => s.Path).Order());
        Assert.Equal(folder.Classes, val.Classes);

        var again = ValidationSplit.Split(folder, 0.2, seed: 3).Validation;
        Assert.Equal(val.Samples, again.Samples);
        var seeds = Enumerable.Range(4, 6).Select(s => ValidationSplit.Split(folder, 0.2, s).Validation.Samples.Select(x => x.Path).ToArray());
        Assert.Contains(seeds, other => !other.SequenceEqual(val.Samples.Select(x => x.Path)));
    }

    [Fact]
    public void AClassWithOneImageCannotBeSplit()
    {
        var error = Assert.Throws<DataException>(() => ValidationSplit.Split(Folder(4, 1), 0.25, 0));
        Assert.Contains("'c1' has 1 image", error.Message);
    }
}

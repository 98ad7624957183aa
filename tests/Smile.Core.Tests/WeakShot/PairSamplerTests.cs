using Smile.WeakShot;

namespace Smile.Tests.WeakShot;

public sealed class PairSamplerTests
{
    /// <summary>30 classes of uneven sizes (3 to 12 images), labels not in class order.</summary>
    private static int[] Labels()
    {
        var labels = Enumerable.Range(0, 30).SelectMany(c => Enumerable.Repeat(c * 7 % 30, 3 + c % 10)).ToArray();
        new Random(5).Shuffle(labels);
        return labels;
    }

    [Fact]
    public void ABatchHasThePapersSizeFromTwentyClassesBalancedWithinOne()
    {
        var labels = Labels();
        var sampler = new PairSampler(labels, seed: 1);
        for (int t = 0; t < 20; t++)
        {
            var batch = sampler.Next();
            Assert.Equal(50, batch.Length);
            var counts = batch.GroupBy(i => labels[i]).Select(g => g.Count()).ToArray();
            Assert.Equal(20, counts.Length); // exactly the chosen classes, each at least once
            Assert.True(counts.Max() - counts.Min() <= 1, $"counts {string.Join(",", counts)}");
        }
    }

    [Fact]
    public void ImagesRepeatOnlyWhenAClassIsSmallerThanItsShare()
    {
        var labels = Labels();
        var sampler = new PairSampler(labels, classesPerBatch: 10, batchSize: 30, seed: 2); // share 3, smallest class 3
        for (int t = 0; t < 20; t++)
        {
            var batch = sampler.Next();
            Assert.Equal(batch.Length, batch.Distinct().Count());
        }
    }

    [Fact]
    public void FewerClassesThanAskedUsesAllOfThem()
    {
        int[] labels = [0, 0, 0, 1, 1, 2, 2, 2, 2];
        var batch = new PairSampler(labels, classesPerBatch: 20, batchSize: 7, seed: 3).Next();
        Assert.Equal(7, batch.Length);
        var counts = batch.GroupBy(i => labels[i]).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal([0, 1, 2], counts.Keys.Order());
        Assert.True(counts.Values.Max() - counts.Values.Min() <= 1);
        Assert.All(batch, i => Assert.InRange(i, 0, labels.Length - 1));
    }

    [Fact]
    public void ASmallClassRepeatsItsImagesEvenly()
    {
        int[] labels = [0, 0, 1, 1, 1, 1, 1, 1];
        var batch = new PairSampler(labels, classesPerBatch: 2, batchSize: 8, seed: 6).Next();
        Assert.Equal([2, 2], batch.Where(i => labels[i] == 0).GroupBy(i => i).Select(g => g.Count()));
        Assert.Equal(4, batch.Count(i => labels[i] == 1 && batch.Count(j => j == i) == 1));
    }

    [Fact]
    public void OnlyTheChosenClassesAppearAndEachChosenClassAppears()
    {
        // classesPerBatch 4 of 30: a batch touching a fifth class, or dropping one, fails the count.
        var labels = Labels();
        var sampler = new PairSampler(labels, classesPerBatch: 4, batchSize: 10, seed: 4);
        for (int t = 0; t < 50; t++)
        {
            var counts = sampler.Next().GroupBy(i => labels[i]).Select(g => g.Count()).Order().ToArray();
            Assert.Equal([2, 2, 3, 3], counts);
        }
    }

    [Fact]
    public void TheSameSeedGivesTheSameBatchesAndAnotherSeedOthers()
    {
        var labels = Labels();
        int[][] Draw(int seed)
        {
            var s = new PairSampler(labels, seed: seed);
            return Enumerable.Range(0, 5).Select(_ => s.Next()).ToArray();
        }
        Assert.Equal(Draw(7), Draw(7));
        Assert.NotEqual(Draw(7), Draw(8));
        var one = new PairSampler(labels, seed: 7);
        Assert.NotEqual(one.Next(), one.Next()); // successive batches differ too
    }
}

using Smile.Data;

namespace Smile.Tests.Data;

/// <summary>Class-balanced sampling (--sampler balanced): equal draws per class, seeded, resumable at any batch.</summary>
public sealed class BalancedSamplingTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("smile-balanced-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public void EveryClassFillsTheSameNumberOfSlots()
    {
        // Classes of 9, 2 and 1 images; 12 slots: 4 each, the small classes' images repeated round after round.
        int[][] byClass = [Enumerable.Range(0, 9).ToArray(), [9, 10], [11]];
        var (order, repeats) = BalancedOrder.Epoch(byClass, 12, seed: 3, epoch: 0);
        Assert.Equal(12, order.Length);
        Assert.All(byClass, members => Assert.Equal(4, order.Count(members.Contains)));
        Assert.Equal(2, order.Count(i => i == 9)); // a class of 2 in 4 slots: each image twice
        Assert.Equal(4, order.Count(i => i == 11));
        Assert.Equal(4, order.Where(i => i < 9).Distinct().Count()); // the big class: 4 different images, none twice
        // Repeats count earlier draws of the same image in the epoch.
        for (int slot = 0; slot < order.Length; slot++) Assert.Equal(order.Take(slot).Count(i => i == order[slot]), repeats[slot]);

        // A remainder goes to a seeded choice of classes, one extra slot each.
        var (uneven, _) = BalancedOrder.Epoch(byClass, 13, seed: 3, epoch: 0);
        Assert.Equal(new[] { 4, 4, 5 }, byClass.Select(m => uneven.Count(m.Contains)).Order());
    }

    [Fact]
    public void TheOrderDependsOnlyOnSeedAndEpoch()
    {
        int[][] byClass = [Enumerable.Range(0, 9).ToArray(), [9, 10], [11]];
        Assert.Equal(BalancedOrder.Epoch(byClass, 12, 3, 5).Order, BalancedOrder.Epoch(byClass, 12, 3, 5).Order);
        Assert.NotEqual(BalancedOrder.Epoch(byClass, 12, 3, 5).Order, BalancedOrder.Epoch(byClass, 12, 3, 6).Order);
        Assert.NotEqual(BalancedOrder.Epoch(byClass, 12, 3, 5).Order, BalancedOrder.Epoch(byClass, 12, 4, 5).Order);
    }

    private ImageFolder Unbalanced()
    {
        int seed = 0;
        foreach (var (name, count) in new[] { ("a", 7), ("b", 2), ("c", 3) })
        {
            var dir = Directory.CreateDirectory(Path.Combine(root, name)).FullName;
            for (int i = 0; i < count; i++) SyntheticPhotos.WriteJpeg(SyntheticPhotos.Render(30 + i, 28, seed++), Path.Combine(dir, $"{i}.jpg"));
        }
        return ImageFolder.ForTraining(root);
    }

    private static List<(long[] Labels, int[] Indices, float[] Images)> Take(BatchLoader loader, int count, int startEpoch = 0, int startBatch = 0)
    {
        var seen = new List<(long[], int[], float[])>();
        foreach (var batch in loader.Batches(startEpoch, startBatch, cycle: true))
        {
            using (batch) seen.Add((batch.Labels.data<long>().ToArray(), batch.Indices.ToArray(), batch.Images.data<float>().ToArray()));
            if (seen.Count == count) break;
        }
        return seen;
    }

    [Fact]
    public void TheLoaderDrawsClassesEquallyAndResumesAtAnyBatch()
    {
        var data = Unbalanced();
        var options = new LoaderOptions(BatchSize: 3, Workers: 2, Seed: 9) { BalancedClasses = true };
        var loader = new BatchLoader(data, TransformSpec.ForTraining(16), options);
        Assert.Equal(4, loader.BatchesPerEpoch); // 12 images: an epoch keeps its 4 batches of 3
        var straight = Take(loader, 8);
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var labels = straight.Skip(4 * epoch).Take(4).SelectMany(b => b.Labels).ToArray();
            Assert.Equal(new[] { 4, 4, 4 }, Enumerable.Range(0, 3).Select(c => labels.Count(l => l == c)));
        }
        // A repeated image in an epoch gets an augmentation of its own (class b has 2 images for 4 slots).
        var epoch0 = straight.Take(4).SelectMany(b => b.Indices.Select((index, slot) => (index, image: b.Images.Skip(slot * 3 * 16 * 16).Take(3 * 16 * 16).ToArray()))).ToList();
        var twice = epoch0.GroupBy(p => p.index).First(g => g.Count() > 1).ToList();
        Assert.NotEqual(twice[0].image, twice[1].image);

        // Resumed at epoch 1, batch 2: the same batches as the straight run from there, bit for bit.
        var resumed = Take(new BatchLoader(data, TransformSpec.ForTraining(16), options with { Workers = 1 }), 2, startEpoch: 1, startBatch: 2);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(straight[6 + i].Indices, resumed[i].Indices);
            Assert.Equal(straight[6 + i].Images, resumed[i].Images);
        }
        // The default stays the shuffled epochs: every image once per epoch.
        var shuffled = Take(new BatchLoader(data, TransformSpec.ForTraining(16), options with { BalancedClasses = false }), 4);
        Assert.Equal(Enumerable.Range(0, 12), shuffled.SelectMany(b => b.Indices).Order());
    }
}

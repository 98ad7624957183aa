using Smile.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Data;

public sealed class BatchLoaderTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("smile-loader-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    /// <summary>classes a, b, c with 5, 4, 3 small photo-like JPEGs of varied sizes.</summary>
    private ImageFolder MakeFolder(string? corruptClass = null)
    {
        int seed = 0;
        foreach (var (name, count) in new[] { ("a", 5), ("b", 4), ("c", 3) })
        {
            var dir = Directory.CreateDirectory(Path.Combine(root, name)).FullName;
            for (int i = 0; i < count; i++)
                SyntheticPhotos.WriteJpeg(SyntheticPhotos.Render(40 + 7 * i, 30 + 5 * i, seed++), Path.Combine(dir, $"{i}.jpg"));
        }
        if (corruptClass is not null)
            File.WriteAllBytes(Path.Combine(root, corruptClass, "broken.jpg"), new byte[] { 0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3 });
        return ImageFolder.ForTraining(root);
    }

    private static List<(float[] Images, long[] Labels, int[] Indices)> Collect(BatchLoader loader, int count, bool cycle = true)
    {
        var seen = new List<(float[], long[], int[])>();
        foreach (var batch in loader.Batches(cycle: cycle))
        {
            using (batch)
                seen.Add((batch.Images.data<float>().ToArray(), batch.Labels.data<long>().ToArray(), batch.Indices.ToArray()));
            if (seen.Count == count) break;
        }
        return seen;
    }

    [Fact]
    public void SameSeedGivesTheSameBatchesWhateverTheNumberOfWorkers()
    {
        var data = MakeFolder();
        var spec = TransformSpec.ForTraining(16);
        var one = Collect(new BatchLoader(data, spec, new LoaderOptions(BatchSize: 4, Workers: 1, Seed: 7)), 7);
        var three = Collect(new BatchLoader(data, spec, new LoaderOptions(BatchSize: 4, Workers: 3, Seed: 7)), 7);
        Assert.Equal(7, one.Count);
        for (int i = 0; i < one.Count; i++)
        {
            Assert.Equal(one[i].Indices, three[i].Indices);
            Assert.Equal(one[i].Labels, three[i].Labels);
            Assert.Equal(one[i].Images, three[i].Images); // bitwise: augmentation depends on (seed, epoch, index) only
        }
        var other = Collect(new BatchLoader(data, spec, new LoaderOptions(BatchSize: 4, Workers: 2, Seed: 8)), 7);
        Assert.NotEqual(one.SelectMany(b => b.Indices), other.SelectMany(b => b.Indices));
    }

    [Fact]
    public void ALoaderThatCannotPinSaysSoOnceAndMakesTheSameBatches()
    {
        // A CPU LibTorch cannot pin memory (CUDA's allocator does it): the loader asked to pin on its own thread (as on
        // CUDA) says so once and goes on with the same batches, which the copy to the device then pins itself.
        var data = MakeFolder();
        var spec = TransformSpec.ForTraining(16);
        var lines = new List<string>();
        var log = new Serilog.LoggerConfiguration().WriteTo.Sink(new Smile.Tests.Training.DeltaAttentionCacheTests.ListSink(out lines)).CreateLogger();
        var plain = Collect(new BatchLoader(data, spec, new LoaderOptions(BatchSize: 4, Workers: 2, Seed: 3)), 5);
        var pinning = new BatchLoader(data, spec, new LoaderOptions(BatchSize: 4, Workers: 2, Seed: 3) { PinMemory = true }, log);
        var asked = Collect(pinning, 5);
        Assert.Equal(plain.Select(b => b.Images), asked.Select(b => b.Images));
        Assert.Equal(plain.Select(b => b.Labels), asked.Select(b => b.Labels));
        if (torch.cuda.is_available()) return; // there pinning works and says nothing
        Assert.Single(lines, l => l.StartsWith("The loader cannot pin its batches (", StringComparison.Ordinal));
    }

    [Fact]
    public void BatchesAreOneTensorPerBatchWithLabelsOfTheirImages()
    {
        var data = MakeFolder();
        var loader = new BatchLoader(data, TransformSpec.ForEvaluation(16), new LoaderOptions(BatchSize: 5, Shuffle: false, DropLast: false));
        Assert.Equal(3, loader.BatchesPerEpoch); // 12 images: 5, 5, 2
        var batches = Collect(loader, 10, cycle: false);
        Assert.Equal(new[] { 5, 5, 2 }, batches.Select(b => b.Indices.Length));
        Assert.Equal(Enumerable.Range(0, 12), batches.SelectMany(b => b.Indices)); // unshuffled, every image once
        Assert.Equal(batches.SelectMany(b => b.Indices).Select(i => (long)data.Samples[i].Label), batches.SelectMany(b => b.Labels));
        Assert.Equal(5 * 3 * 16 * 16, batches[0].Images.Length);
    }

    [Fact]
    public void EachEpochIsAPermutationAndCyclingGoesOnAcrossEpochs()
    {
        var data = MakeFolder();
        var loader = new BatchLoader(data, TransformSpec.ForTraining(16), new LoaderOptions(BatchSize: 4, Seed: 1));
        var batches = Collect(loader, 6); // 3 per epoch
        var epoch0 = batches.Take(3).SelectMany(b => b.Indices).ToArray();
        var epoch1 = batches.Skip(3).SelectMany(b => b.Indices).ToArray();
        Assert.Equal(Enumerable.Range(0, 12), epoch0.Order());
        Assert.Equal(Enumerable.Range(0, 12), epoch1.Order());
        Assert.NotEqual(epoch0, epoch1); // reshuffled
    }

    [Fact]
    public void ResumingAtABatchSeesWhatTheUninterruptedRunSaw()
    {
        var data = MakeFolder();
        var spec = TransformSpec.ForTraining(16);
        var options = new LoaderOptions(BatchSize: 4, Seed: 3);
        var full = Collect(new BatchLoader(data, spec, options), 5);
        var resumed = new List<float[]>();
        foreach (var batch in new BatchLoader(data, spec, options).Batches(startEpoch: 1, startBatch: 1, cycle: true))
        {
            using (batch) resumed.Add(batch.Images.data<float>().ToArray());
            if (resumed.Count == 1) break;
        }
        Assert.Equal(full[4].Images, resumed[0]); // epoch 1, batch 1 = the fifth batch
    }

    [Fact]
    public void AnUnreadableImageIsReplacedByOneOfItsClassAndCounted()
    {
        var data = MakeFolder(corruptClass: "b");
        var loader = new BatchLoader(data, TransformSpec.ForTraining(16), new LoaderOptions(BatchSize: 13, Seed: 0));
        var batches = Collect(loader, 3);
        int broken = data.Samples.Select((s, i) => (s, i)).Single(p => p.s.Path.EndsWith("broken.jpg", StringComparison.Ordinal)).i;
        foreach (var b in batches)
        {
            Assert.DoesNotContain(broken, b.Indices); // replaced ...
            Assert.Equal(5, b.Labels.Count(l => l == 1)); // ... by an image of its class: b keeps its 5 slots
        }
        Assert.Equal(1, loader.BadImageCount);
        Assert.EndsWith("broken.jpg", Assert.Single(loader.BadImages));
    }

    [Fact]
    public void ADecompressionBombIsReplacedLikeAnyUnreadableImage()
    {
        var bomb = Path.Combine(root, "b", "bomb.png");
        Directory.CreateDirectory(Path.GetDirectoryName(bomb)!);
        HugePng.Write(bomb, 20000, 20000); // over ImageDecoder.DefaultMaxPixels: refused from its header
        var data = MakeFolder();
        var loader = new BatchLoader(data, TransformSpec.ForTraining(16), new LoaderOptions(BatchSize: 13, Seed: 0));
        var batches = Collect(loader, 2);
        int index = data.Samples.Select((s, i) => (s, i)).Single(p => p.s.Path == bomb).i;
        Assert.All(batches, b => Assert.DoesNotContain(index, b.Indices));
        Assert.Equal(bomb, Assert.Single(loader.BadImages));
    }

    [Fact]
    public void AnUnshuffledLoaderSkipsUnreadableImagesAndListsThem()
    {
        MakeFolder(corruptClass: "b");
        File.WriteAllBytes(Path.Combine(root, "a", "empty.jpg"), []);
        var data = ImageFolder.ForTraining(root); // 14 files, 2 of them unreadable
        var broken = data.Samples.Select((s, i) => (s, i)).Where(p => p.s.Path.EndsWith("broken.jpg", StringComparison.Ordinal) || p.s.Path.EndsWith("empty.jpg", StringComparison.Ordinal))
            .Select(p => p.i).ToArray();
        Assert.Equal(2, broken.Length);
        var spec = TransformSpec.ForEvaluation(16);
        Assert.Equal(UnreadableImagePolicy.Skip, new LoaderOptions(BatchSize: 4, Shuffle: false).Unreadable);
        Assert.Equal(UnreadableImagePolicy.Replace, new LoaderOptions(BatchSize: 4).Unreadable);
        var loader = new BatchLoader(data, spec, new LoaderOptions(BatchSize: 4, Workers: 3, Shuffle: false, DropLast: false));

        var indices = new List<int>();
        var labels = new List<long>();
        var pixels = new List<float>();
        var skipped = new List<SkippedImage>();
        foreach (var batch in loader.Batches())
            using (batch)
            {
                Assert.Equal(batch.Count, (int)batch.Images.shape[0]);
                indices.AddRange(batch.Indices);
                labels.AddRange(batch.Labels.data<long>().ToArray());
                pixels.AddRange(batch.Images.data<float>().ToArray());
                skipped.AddRange(batch.Skipped);
            }
        var readable = Enumerable.Range(0, data.Samples.Count).Except(broken).ToArray();
        Assert.Equal(readable, indices); // every readable image once, in order, nothing in the place of the others
        Assert.Equal(readable.Select(i => (long)data.Samples[i].Label), labels);
        Assert.Equal(broken.Select(i => data.Samples[i].Path), skipped.Select(s => s.Path));
        Assert.All(skipped, s => Assert.StartsWith($"{s.Path}: cannot decode image", s.Reason));
        Assert.Equal(2, loader.BadImageCount);
        using (var reference = new BatchLoader(data, spec, new LoaderOptions(BatchSize: 4, Shuffle: false)).Build(readable, 0))
            Assert.Equal(reference.Images.data<float>().ToArray(), pixels); // the rows after a skipped image moved up intact

        using var none = loader.Build(broken, 0);
        Assert.Equal(0, none.Count);
        Assert.Equal(new long[] { 0, 3, 16, 16 }, none.Images.shape);
        Assert.Equal(2, none.Skipped.Count);
        var strict = new BatchLoader(data, spec, new LoaderOptions(BatchSize: 4, Shuffle: false, DropLast: false, StrictImages: true));
        Assert.Contains("broken.jpg", Assert.Throws<DataException>(() => strict.Build(broken[^1..], 0)).Message);
    }

    [Fact]
    public void StrictImagesMakesAnUnreadableImageAnErrorNamingIt()
    {
        var data = MakeFolder(corruptClass: "c");
        var loader = new BatchLoader(data, TransformSpec.ForTraining(16), new LoaderOptions(BatchSize: 13, StrictImages: true));
        var e = Assert.Throws<DataException>(() => Collect(loader, 1));
        Assert.Contains("broken.jpg", e.Message);
    }
}

using Smile.Data;
using Smile.Tests.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Data;

/// <summary>The one-ahead device copy, run on the CPU (its copies are then aliases, and nothing is pinned). In the
/// default-device collection, which runs alone: the tests count LibTorch's live tensors.</summary>
[Collection(nameof(DefaultDeviceCollection))]
public sealed class DevicePrefetcherTests
{
    /// <summary>Host batches 0..count-1 (every pixel of batch k equal to k), made when pulled; <paramref name="pulled"/>
    /// counts the pulls, <paramref name="made"/> keeps every batch made; batch <paramref name="failAt"/> throws instead.</summary>
    private static IEnumerable<Batch> Source(int count, List<Batch> made, Action? pulled = null, int failAt = -1)
    {
        for (int k = 0; k < count; k++)
        {
            pulled?.Invoke();
            if (k == failAt) throw new DataException($"planted failure at batch {k}");
            using Scalar pixel = (float)k;
            var batch = new Batch(full(2, 3, 4, 4, pixel), tensor(new long[] { k, k + 1 }), [2 * k, 2 * k + 1], epoch: k / 2);
            made.Add(batch);
            yield return batch;
        }
    }

    [Fact]
    public void OnTheCpuTheLoadersBatchesPassThroughUnchanged()
    {
        var source = Source(3, []);
        Assert.Same(source, DevicePrefetcher.For(source, CPU));
    }

    [Fact]
    public void ItYieldsTheSameBatchesInOrderAndDisposesTheHostBatches()
    {
        var made = new List<Batch>();
        var seen = new List<(float Pixel, long[] Labels, int[] Indices, int Epoch)>();
        foreach (var batch in DevicePrefetcher.Ahead(Source(5, made), CPU, pin: false))
            using (batch)
            using (NewDisposeScope())
                seen.Add((batch.Images[0, 0, 0, 0].item<float>(), batch.Labels.data<long>().ToArray(), batch.Indices.ToArray(), batch.Epoch));
        Assert.Equal([0f, 1f, 2f, 3f, 4f], seen.Select(s => s.Pixel));
        Assert.Equal(Enumerable.Range(0, 5).Select(k => new long[] { k, k + 1 }), seen.Select(s => s.Labels));
        Assert.Equal(Enumerable.Range(0, 5).Select(k => new[] { 2 * k, 2 * k + 1 }), seen.Select(s => s.Indices));
        Assert.Equal([0, 0, 1, 1, 2], seen.Select(s => s.Epoch));
        Assert.Equal(5, made.Count);
        Assert.All(made, host => Assert.True(host.Images.IsInvalid && host.Labels.IsInvalid, "a host batch was left undisposed"));
    }

    [Fact]
    public void TheNextBatchIsTakenBeforeTheCurrentIsHandedOut()
    {
        int pulls = 0, handedOut = 0;
        var pullsWhenHanded = new List<int>();
        foreach (var batch in DevicePrefetcher.Ahead(Source(4, [], () => pulls++), CPU, pin: false))
            using (batch)
            {
                handedOut++;
                pullsWhenHanded.Add(pulls);
            }
        Assert.Equal(4, handedOut);
        Assert.Equal([2, 3, 4, 4], pullsWhenHanded); // batch k is handed out with k+1 already copied (none after the last)
    }

    [Fact]
    public void TheBatchesBelongToTheReceiverNotToADisposeScopeAndNoneLeaks()
    {
        long before = Tensor.TotalCount;
        using (var enumerator = DevicePrefetcher.Ahead(Source(5, []), CPU, pin: false).GetEnumerator())
        {
            Batch first;
            using (NewDisposeScope())
            {
                Assert.True(enumerator.MoveNext());
                first = enumerator.Current;
            }
            // The scope open during MoveNext is gone; the batch, and the one made ahead, are still whole.
            Assert.False(first.Images.IsInvalid || first.Labels.IsInvalid);
            using (NewDisposeScope())
                Assert.Equal(0f, first.Images.sum().item<float>());
            first.Dispose();
            Assert.True(enumerator.MoveNext());
            using (var second = enumerator.Current)
            using (NewDisposeScope())
                Assert.Equal(1f, second.Images[1, 2, 3, 3].item<float>());
            // Stopped early here: the batch made ahead (the third) must be disposed with the enumerator.
        }
        Assert.Equal(before, Tensor.TotalCount);
    }

    [Fact]
    public void AFailureInTheSourceSurfacesAfterTheBatchesBeforeIt()
    {
        long before = Tensor.TotalCount;
        var received = new List<float>();
        var e = Assert.Throws<DataException>(() =>
        {
            foreach (var batch in DevicePrefetcher.Ahead(Source(5, [], failAt: 2), CPU, pin: false))
                using (batch)
                using (NewDisposeScope())
                    received.Add(batch.Images[0, 0, 0, 0].item<float>());
        });
        Assert.Equal("planted failure at batch 2", e.Message);
        Assert.Equal([0f, 1f], received);
        Assert.Equal(before, Tensor.TotalCount);

        var first = Assert.Throws<DataException>(() => DevicePrefetcher.Ahead(Source(5, [], failAt: 0), CPU, pin: false).First());
        Assert.Equal("planted failure at batch 0", first.Message);
    }
}

namespace Smile.Data.Prepare;

/// <summary>A web image of class <paramref name="ClassName"/> dropped as a copy of the test image <paramref name="TestPath"/>.</summary>
public sealed record DroppedDuplicate(string ClassName, string WebPath, string TestPath, int Distance);

/// <summary>A web image that could not be decoded, skipped.</summary>
public sealed record UnreadableImage(string ClassName, string WebPath, string Reason);

/// <summary>
/// Finds the web images that are exact or near copies of a test image by <see cref="PerceptualHash"/>: a web
/// image whose hash is within <c>maxDistance</c> bits of some test image's is dropped, reported with its
/// nearest test image. Without this a crawl that found the benchmark's own test photos would train on them.
/// </summary>
public static class TestDuplicates
{
    /// <summary>
    /// The default threshold. Resized, recompressed and re-encoded copies of a photo land 0 to 2 bits from it in
    /// the tests (real crawls add light edits: a few bits more), while two unrelated photos differ in about 32
    /// bits (18 at the least among the tests' synthetic photos). Were the bits independent coin flips, a chance
    /// pair would land within 6 bits with probability 5e-12 (within 10: 1e-8, a false drop or so among the
    /// 10^8 web x test pairs of a CUB-sized crawl); photos of one kind are more alike than that, hence no more
    /// than 6. Not for tiny centred images on a flat background: on Fashion-MNIST's 28x28 items a third of
    /// unrelated web images fall within 6 bits of some test image (its weak-shot layout needs no hashing: its
    /// web images come from the training split).
    /// </summary>
    public const int DefaultMaxDistance = 6;

    public sealed record Result(IReadOnlyList<(string ClassName, string Path)> Kept, IReadOnlyList<DroppedDuplicate> Dropped, IReadOnlyList<UnreadableImage> Unreadable);

    /// <param name="testImages">Every image that must not reappear among the web images; one that cannot be
    /// decoded is an error (it could not be guarded against).</param>
    /// <param name="webImages">The web images with their class; one that cannot be decoded is skipped and reported
    /// (a crawl holds error pages saved as .jpg and cut-off downloads; linking one would only fail in training).</param>
    /// <param name="progress">Called with (hashed, total) now and then, from any thread.</param>
    public static Result Find(IReadOnlyList<string> testImages, IReadOnlyList<(string ClassName, string Path)> webImages, int maxDistance, Action<int, int>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxDistance);
        int total = testImages.Count + webImages.Count, done = 0;
        void Step()
        {
            int now = Interlocked.Increment(ref done);
            if (progress != null && (now % 500 == 0 || now == total)) progress(now, total);
        }

        var testHashes = new ulong[testImages.Count];
        InParallel(testImages.Count, i => { testHashes[i] = PerceptualHash.Of(testImages[i]); Step(); });

        var webHashes = new ulong?[webImages.Count];
        var reasons = new string?[webImages.Count];
        InParallel(webImages.Count, i =>
        {
            try { webHashes[i] = PerceptualHash.Of(webImages[i].Path); }
            catch (DataException e) { reasons[i] = e.Message; }
            Step();
        });

        var kept = new List<(string, string)>();
        var dropped = new List<DroppedDuplicate>();
        var unreadable = new List<UnreadableImage>();
        for (int i = 0; i < webImages.Count; i++)
        {
            var (className, path) = webImages[i];
            if (webHashes[i] is not { } hash)
            {
                unreadable.Add(new UnreadableImage(className, path, reasons[i]!));
                continue;
            }
            // The nearest test image (the first of equals, in the given order), so the report names the best match.
            int best = -1, bestDistance = int.MaxValue;
            for (int t = 0; t < testHashes.Length && bestDistance > 0; t++)
            {
                int distance = PerceptualHash.Distance(hash, testHashes[t]);
                if (distance < bestDistance) (best, bestDistance) = (t, distance);
            }
            if (best >= 0 && bestDistance <= maxDistance) dropped.Add(new DroppedDuplicate(className, path, testImages[best], bestDistance));
            else kept.Add((className, path));
        }
        return new Result(kept, dropped, unreadable);
    }

    // A decode error of a test image reaches the caller as itself, not wrapped by the parallel loop.
    private static void InParallel(int count, Action<int> body)
    {
        try { Parallel.For(0, count, body); }
        catch (AggregateException e) when (e.InnerExceptions.FirstOrDefault(x => x is DataException) is { } first) { throw first; }
    }
}

namespace Smile.Data;

/// <summary>
/// The order of one epoch of class-balanced sampling (`--sampler balanced`): every class fills the same number of
/// the epoch's slots (when the slots do not divide evenly, a seeded choice of classes gets one more), each class's
/// images are taken from a seeded shuffle of that class, round after round when it has fewer images than slots, and
/// the slots are shuffled. Everything depends only on (seed, epoch), as the shuffled order does
/// (<see cref="SampleRandom.Permutation"/>), so a run resumed at (epoch, batch) draws exactly what it would have drawn.
/// </summary>
internal static class BalancedOrder
{
    /// <summary>
    /// <paramref name="length"/> sample indices drawn from <paramref name="samplesByClass"/> (classes without samples
    /// are left out), and for each slot how many times its image already came earlier in the epoch (0 for its first
    /// draw), so that repeated draws of one image get augmentations of their own.
    /// </summary>
    public static (int[] Order, int[] Repeat) Epoch(IReadOnlyList<int[]> samplesByClass, int length, int seed, int epoch)
    {
        var classes = Enumerable.Range(0, samplesByClass.Count).Where(c => samplesByClass[c].Length > 0).ToArray();
        if (classes.Length == 0) throw new ArgumentException("no class has samples", nameof(samplesByClass));
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));

        // Which classes get the remainder's extra slot: a seeded choice, so that no class is favoured epoch after epoch.
        int each = length / classes.Length, extra = length % classes.Length;
        var lucky = (int[])classes.Clone();
        new Random(SampleRandom.Seed(seed, epoch, -2)).Shuffle(lucky);
        var slots = classes.ToDictionary(c => c, _ => each);
        foreach (var c in lucky.Take(extra)) slots[c]++;

        var order = new List<int>(length);
        foreach (var c in classes)
        {
            var images = (int[])samplesByClass[c].Clone();
            new Random(SampleRandom.Seed(seed, epoch, c, -3)).Shuffle(images);
            for (int j = 0; j < slots[c]; j++) order.Add(images[j % images.Length]);
        }
        var shuffled = order.ToArray();
        new Random(SampleRandom.Seed(seed, epoch, -4)).Shuffle(shuffled);
        var drawn = new Dictionary<int, int>();
        var repeats = new int[shuffled.Length];
        for (int slot = 0; slot < shuffled.Length; slot++)
        {
            drawn.TryGetValue(shuffled[slot], out repeats[slot]);
            drawn[shuffled[slot]] = repeats[slot] + 1;
        }
        return (shuffled, repeats);
    }
}

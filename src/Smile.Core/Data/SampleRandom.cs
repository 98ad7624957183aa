namespace Smile.Data;

/// <summary>
/// Seeds derived from (seed, epoch, index) so that the order and every augmentation depend only on the
/// seed, never on which worker thread handled a sample or when.
/// </summary>
internal static class SampleRandom
{
    /// <summary>A well-mixed 32-bit seed from the parts (SplitMix64 finaliser over a running hash).</summary>
    public static int Seed(params long[] parts)
    {
        ulong h = 0x9E3779B97F4A7C15UL;
        foreach (long p in parts)
        {
            h ^= unchecked((ulong)p) + 0x9E3779B97F4A7C15UL + (h << 6) + (h >> 2);
            h = Mix(h);
        }
        return unchecked((int)(h ^ (h >> 32)));
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The order of one epoch: a Fisher-Yates shuffle seeded by (seed, epoch).</summary>
    public static int[] Permutation(int count, int seed, int epoch)
    {
        var order = Enumerable.Range(0, count).ToArray();
        var rng = new Random(Seed(seed, epoch, -1));
        for (int i = count - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}

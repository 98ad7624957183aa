namespace Smile.WeakShot;

/// <summary>
/// The SimNet's batch sampler (docs/METHODS.md, "SimNet": by default 20 classes, then 50 images from
/// them): each batch draws <c>classesPerBatch</c> distinct classes (all of them when the data has fewer; never
/// more than the batch has images, so every chosen class appears), then <c>batchSize</c> images split among them
/// as evenly as possible (the remainder goes to randomly chosen classes). A random batch would hold few
/// same-class pairs; this gives about 7% positive pairs at the paper's sizes. Within a class images come
/// from a shuffled queue that is refilled when it runs out, so every image is used before any is used again,
/// and an image repeats within a batch only when its class has fewer images than its share. Deterministic for
/// a seed.
/// </summary>
public sealed class PairSampler
{
    private readonly Random rng;
    private readonly int[] classes;
    private readonly Dictionary<int, int[]> imagesOf;
    private readonly Dictionary<int, Queue<int>> queues = [];

    public int ClassesPerBatch { get; }
    public int BatchSize { get; }

    /// <param name="labels">The class of each image; a batch holds indices into this list.</param>
    public PairSampler(IReadOnlyList<int> labels, int classesPerBatch = 20, int batchSize = 50, int seed = 0)
    {
        if (labels.Count == 0) throw new ArgumentException("no images to sample from", nameof(labels));
        if (classesPerBatch < 1) throw new ArgumentOutOfRangeException(nameof(classesPerBatch), classesPerBatch, "a batch needs at least one class");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "a batch needs at least one image");
        imagesOf = Enumerable.Range(0, labels.Count).GroupBy(i => labels[i]).ToDictionary(g => g.Key, g => g.ToArray());
        // Sorted so that the draws depend on the seed and the labels only, not on dictionary order.
        classes = [.. imagesOf.Keys.Order()];
        ClassesPerBatch = Math.Min(Math.Min(classesPerBatch, classes.Length), batchSize);
        BatchSize = batchSize;
        rng = new Random(seed);
    }

    /// <summary>The image indices of the next batch, grouped by class in the order the classes were drawn.</summary>
    public int[] Next()
    {
        var chosen = (int[])classes.Clone();
        rng.Shuffle(chosen);
        var batch = new List<int>(BatchSize);
        int share = BatchSize / ClassesPerBatch, remainder = BatchSize % ClassesPerBatch;
        // The first `remainder` of the shuffled classes take one image more: a random choice, since the order is.
        for (int k = 0; k < ClassesPerBatch; k++)
            batch.AddRange(Draw(chosen[k], share + (k < remainder ? 1 : 0)));
        return [.. batch];
    }

    /// <summary>The next <paramref name="count"/> images of a class from its queue. When the queue runs out
    /// mid-draw the refill puts the images this draw already took last, so that an image repeats within a batch
    /// only when its class has fewer images than its share.</summary>
    private List<int> Draw(int label, int count)
    {
        if (!queues.TryGetValue(label, out var queue)) queues[label] = queue = new Queue<int>();
        var taken = new List<int>(count);
        while (taken.Count < count)
        {
            if (queue.Count == 0)
            {
                var refill = (int[])imagesOf[label].Clone();
                rng.Shuffle(refill);
                foreach (var i in refill.Where(i => !taken.Contains(i)).Concat(refill.Where(taken.Contains))) queue.Enqueue(i);
            }
            taken.Add(queue.Dequeue());
        }
        return taken;
    }
}

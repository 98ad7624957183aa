using System.Collections.Concurrent;
using System.Threading.Channels;
using Serilog;
using static TorchSharp.torch;

namespace Smile.Data;

/// <summary>What a loader does with an image it cannot decode (unless <see cref="LoaderOptions.StrictImages"/>
/// makes it an error).</summary>
public enum UnreadableImagePolicy
{
    /// <summary>Training: another image of its class takes the slot, so the batch keeps its size and class balance.</summary>
    Replace,
    /// <summary>Evaluation: the image is left out of its batch and listed in <see cref="Batch.Skipped"/>; a
    /// replacement would count another image twice in the figures.</summary>
    Skip,
}

/// <summary>How batches are made. <see cref="DropLast"/> drops a final partial batch (training: BatchNorm
/// in train mode needs more than one sample); <see cref="Prefetch"/> bounds the batches made ahead.</summary>
public sealed record LoaderOptions(int BatchSize, int Workers = 0, int Seed = 0, bool Shuffle = true, bool DropLast = true,
    int Prefetch = 2, bool StrictImages = false, UnreadableImagePolicy? OnUnreadable = null)
{
    /// <summary>Worker threads actually used: <see cref="Workers"/>, or the number of cores when 0.</summary>
    public int EffectiveWorkers => Workers > 0 ? Workers : Environment.ProcessorCount;

    /// <summary><see cref="OnUnreadable"/>, or by default: replace in a shuffled (training) loader, skip in an
    /// unshuffled one, which is how every evaluation reads its folder.</summary>
    public UnreadableImagePolicy Unreadable => OnUnreadable ?? (Shuffle ? UnreadableImagePolicy.Replace : UnreadableImagePolicy.Skip);

    /// <summary>With <see cref="Shuffle"/>: draw every class equally often in each epoch (<see cref="BalancedOrder"/>)
    /// instead of a shuffle of all images; an epoch keeps its number of batches.</summary>
    public bool BalancedClasses { get; init; }

    /// <summary>Copy each batch into pinned (page-locked) host memory on the loader's own thread, so that the consumer
    /// only queues its copy to the GPU (Data/DevicePrefetcher.cs pins what is not pinned yet, on the consumer's thread).
    /// Where pinning fails (a LibTorch without CUDA) the loader stops trying, with one warning.</summary>
    public bool PinMemory { get; init; }
}

/// <summary>
/// Decodes and transforms images on worker threads straight into one N x 3 x H x W tensor per batch
/// (no tensor per image), a bounded number of batches ahead of the consumer. Order and augmentation
/// depend only on (seed, epoch, index), so the same seed gives the same batches whatever the number
/// of workers, and a run resumed at (epoch, batch) sees what it would have seen.
/// An undecodable image is logged once and, by <see cref="LoaderOptions.Unreadable"/>, replaced by another image
/// of the same class (training) or left out of its batch (evaluation); <see cref="LoaderOptions.StrictImages"/>
/// makes it an error instead.
/// </summary>
public sealed class BatchLoader
{
    private const int MaxReplacementTries = 16;

    private readonly ImageFolder data;
    private readonly TransformSpec transform;
    private readonly LoaderOptions options;
    private readonly ILogger log;
    private readonly int[][] samplesByClass;
    private readonly ConcurrentDictionary<string, byte> badImages = new(StringComparer.Ordinal);
    private volatile bool pinningFailed;

    public BatchLoader(ImageFolder data, TransformSpec transform, LoaderOptions options, ILogger? log = null)
    {
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), $"batch size must be at least 1 (got {options.BatchSize})");
        if (options.Prefetch < 1) throw new ArgumentOutOfRangeException(nameof(options), $"prefetch must be at least 1 (got {options.Prefetch})");
        if (data.Samples.Count == 0) throw new DataException($"{data.Root}: no images");
        if (options.DropLast && data.Samples.Count < options.BatchSize)
            throw new DataException($"{data.Root}: {data.Samples.Count} images, fewer than one batch of {options.BatchSize}");
        this.data = data;
        this.transform = transform;
        this.options = options;
        this.log = log ?? Serilog.Core.Logger.None;
        samplesByClass = Enumerable.Range(0, data.Classes.Count)
            .Select(c => Enumerable.Range(0, data.Samples.Count).Where(i => data.Samples[i].Label == c).ToArray())
            .ToArray();
    }

    public int BatchesPerEpoch => options.DropLast
        ? data.Samples.Count / options.BatchSize
        : (data.Samples.Count + options.BatchSize - 1) / options.BatchSize;

    public LoaderOptions Options => options;

    /// <summary>The folder the batches come from (<see cref="Batch.Indices"/> index its samples).</summary>
    public ImageFolder Data => data;

    /// <summary>Distinct files that could not be decoded so far (each was replaced or skipped, and logged once).</summary>
    public int BadImageCount => badImages.Count;
    public IReadOnlyCollection<string> BadImages => badImages.Keys.ToArray();

    /// <summary>
    /// Batches from (<paramref name="startEpoch"/>, <paramref name="startBatch"/>): one epoch's remainder, or,
    /// with <paramref name="cycle"/>, epoch after epoch without end (iteration-based training).
    /// Stopping the enumeration early stops the workers and disposes the batches made ahead.
    /// </summary>
    public IEnumerable<Batch> Batches(int startEpoch = 0, int startBatch = 0, bool cycle = false, CancellationToken cancel = default)
    {
        if (startBatch < 0 || startBatch > BatchesPerEpoch) throw new ArgumentOutOfRangeException(nameof(startBatch));
        var channel = Channel.CreateBounded<Batch>(new BoundedChannelOptions(options.Prefetch) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var producer = Task.Run(() => Produce(channel.Writer, startEpoch, startBatch, cycle, stop.Token), stop.Token);
        try
        {
            while (true)
            {
                Batch? batch;
                try
                {
                    if (!channel.Reader.WaitToReadAsync(stop.Token).AsTask().GetAwaiter().GetResult()) break;
                    if (!channel.Reader.TryRead(out batch)) continue;
                }
                catch (ChannelClosedException e) when (e.InnerException is not null)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                    throw;
                }
                yield return batch;
            }
            // A producer failure closes the channel with the exception: surface it, unwrapped.
            if (channel.Reader.Completion.IsFaulted)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(
                    channel.Reader.Completion.Exception!.InnerException ?? channel.Reader.Completion.Exception).Throw();
        }
        finally
        {
            stop.Cancel();
            try { producer.Wait(); } catch (AggregateException) { } // cancelled or already reported
            while (channel.Reader.TryRead(out var left)) left.Dispose();
        }
    }

    private async Task Produce(ChannelWriter<Batch> writer, int epoch, int batchIndex, bool cycle, CancellationToken stop)
    {
        try
        {
            do
            {
                var (order, repeats) = EpochOrder(epoch);
                for (; batchIndex < BatchesPerEpoch; batchIndex++)
                {
                    stop.ThrowIfCancellationRequested();
                    int begin = batchIndex * options.BatchSize;
                    var slots = begin..Math.Min(begin + options.BatchSize, order.Length);
                    var batch = Build(order[slots], epoch, repeats?[slots], stop);
                    try { await writer.WriteAsync(batch, stop).ConfigureAwait(false); }
                    catch { batch.Dispose(); throw; }
                }
                batchIndex = 0;
                epoch++;
            } while (cycle);
            writer.Complete();
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            writer.TryComplete();
        }
        catch (Exception e)
        {
            writer.TryComplete(e);
        }
    }

    /// <summary>The sample indices of one epoch in the order they are batched, and with balanced sampling how often
    /// each slot's image came before in the epoch (null otherwise: every image comes once).</summary>
    private (int[] Order, int[]? Repeats) EpochOrder(int epoch)
    {
        if (!options.Shuffle) return (Enumerable.Range(0, data.Samples.Count).ToArray(), null);
        if (!options.BalancedClasses) return (SampleRandom.Permutation(data.Samples.Count, options.Seed, epoch), null);
        // Only the slots that are batched are balanced: with DropLast the epoch's last partial batch never exists.
        int used = options.DropLast ? BatchesPerEpoch * options.BatchSize : data.Samples.Count;
        return BalancedOrder.Epoch(samplesByClass, used, options.Seed, epoch);
    }

    /// <summary><paramref name="t"/> in pinned memory (the tensor given is disposed), or itself when pinning fails.</summary>
    private Tensor Pinned(Tensor t)
    {
        try
        {
            var pinned = t.pin_memory().DetachFromDisposeScope();
            t.Dispose();
            return pinned;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            if (!pinningFailed) log.Warning("The loader cannot pin its batches ({Reason}); the copy to the device pins them instead", e.Message.Split('\n')[0]);
            pinningFailed = true;
            return t;
        }
    }

    /// <summary>Makes one batch; public so that evaluation and tests can build a batch from chosen indices.
    /// With <see cref="UnreadableImagePolicy.Skip"/> the batch may hold fewer images than indices (none, even).</summary>
    public Batch Build(int[] indices, int epoch, CancellationToken stop = default) => Build(indices, epoch, null, stop);

    /// <summary><paramref name="repeats"/>: for each slot, how often its image was drawn before in the epoch (balanced
    /// sampling), so that a repeated image gets its own augmentation; null: every image once.</summary>
    private Batch Build(int[] indices, int epoch, int[]? repeats, CancellationToken stop)
    {
        int n = indices.Length, size = transform.CropSize;
        int perImage = 3 * size * size;
        var images = empty(n, 3, size, size, device: CPU);
        try
        {
            var used = (int[])indices.Clone();
            var failures = new string?[n];
            int kept = 0;
            unsafe
            {
                fixed (byte* raw = images.bytes)
                {
                    var basePtr = (IntPtr)raw;
                    var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.EffectiveWorkers, CancellationToken = stop };
                    try
                    {
                        Parallel.For(0, n, parallel, slot =>
                        {
                            var destination = new Span<float>((float*)basePtr + (long)slot * perImage, perImage);
                            used[slot] = LoadInto(indices[slot], repeats?[slot] ?? 0, epoch, destination, out failures[slot]);
                        });
                    }
                    catch (AggregateException e) when (e.InnerExceptions.Count >= 1)
                    {
                        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
                    }
                    // Skipped slots are closed up: the images that were read move forward, in order.
                    for (int slot = 0; slot < n; slot++)
                    {
                        if (failures[slot] is not null) continue;
                        if (kept != slot)
                            new Span<float>((float*)basePtr + (long)slot * perImage, perImage)
                                .CopyTo(new Span<float>((float*)basePtr + (long)kept * perImage, perImage));
                        used[kept++] = used[slot];
                    }
                }
            }
            var skipped = Enumerable.Range(0, n).Where(slot => failures[slot] is not null)
                .Select(slot => new SkippedImage(data.Samples[indices[slot]].Path, failures[slot]!)).ToArray();
            if (kept < n)
            {
                var part = images.narrow(0, 0, kept).clone();
                images.Dispose();
                images = part;
                used = used[..kept];
            }
            var labels = tensor(used.Select(i => (long)data.Samples[i].Label).ToArray(), device: CPU);
            if (options.PinMemory && !pinningFailed) (images, labels) = (Pinned(images), Pinned(labels));
            return new Batch(images, labels, used, epoch, skipped);
        }
        catch
        {
            images.Dispose();
            throw;
        }
    }

    /// <summary>Decodes and transforms sample <paramref name="index"/> (or a same-class replacement); returns the index
    /// used, or -1 with the reason in <paramref name="skipped"/> when the image is skipped.</summary>
    private int LoadInto(int index, int repeat, int epoch, Span<float> destination, out string? skipped)
    {
        skipped = null;
        int current = index;
        for (int attempt = 0; ; attempt++)
        {
            var sample = data.Samples[current];
            RgbImage image;
            try
            {
                image = ImageDecoder.Decode(sample.Path, TrainingTransform.DecodeSize(transform), TrainingTransform.DecodeSize(transform));
            }
            catch (DataException e)
            {
                if (options.StrictImages) throw;
                if (options.Unreadable == UnreadableImagePolicy.Skip)
                {
                    if (badImages.TryAdd(sample.Path, 0)) log.Warning("Unreadable image skipped: {Reason}", e.Message);
                    skipped = e.Message;
                    return -1;
                }
                if (badImages.TryAdd(sample.Path, 0))
                    log.Warning("Unreadable image replaced by another of its class: {Reason}", e.Message);
                var sameClass = samplesByClass[sample.Label];
                if (attempt + 1 >= MaxReplacementTries || sameClass.Length <= 1)
                    throw new DataException($"{data.Root}: class '{data.Classes[sample.Label]}' has no readable image to replace {sample.Path}");
                // The replacement depends only on (seed, epoch, index, attempt): deterministic whatever the threads.
                var rng = new Random(SampleRandom.Seed(options.Seed, epoch, index, attempt + 1));
                current = sameClass[rng.Next(sameClass.Length)];
                continue;
            }
            // The augmentation is drawn for the slot's original index, so a replacement does not shift other samples' randomness.
            // A repeated draw of the image in the same epoch (balanced sampling) gets an augmentation of its own.
            if (transform.Train)
                TrainingTransform.Apply(image, transform, new Random(repeat == 0 ? SampleRandom.Seed(options.Seed, epoch, index) : SampleRandom.Seed(options.Seed, epoch, index, 0xBA1, repeat)), destination);
            else
                ImageTransform.Apply(image, transform, Augmentation.Center(transform), destination);
            return current;
        }
    }
}

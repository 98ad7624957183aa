using static TorchSharp.torch;

namespace Smile.Data;

/// <summary>An image a loader could not decode and left out (<see cref="UnreadableImagePolicy.Skip"/>), with the
/// decoder's one-line reason (which names the file).</summary>
public sealed record SkippedImage(string Path, string Reason);

/// <summary>
/// One batch: images as a single N x 3 x H x W float tensor and labels as an int64 tensor, both on the CPU
/// and owned by the receiver (dispose, or move into a dispose scope). <see cref="Indices"/> are the dataset
/// indices actually used (after a bad image was replaced), <see cref="Epoch"/> the pass it belongs to, and
/// <see cref="Skipped"/> the images of the batch left out because they could not be read (N may then be 0).
/// </summary>
public sealed class Batch(Tensor images, Tensor labels, int[] indices, int epoch, IReadOnlyList<SkippedImage>? skipped = null) : IDisposable
{
    public Tensor Images { get; } = images;
    public Tensor Labels { get; } = labels;
    public IReadOnlyList<int> Indices { get; } = indices;
    public int Epoch { get; } = epoch;
    public IReadOnlyList<SkippedImage> Skipped { get; } = skipped ?? [];
    public int Count => Indices.Count;

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

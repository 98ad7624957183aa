using static TorchSharp.torch;

namespace Smile.Data;

/// <summary>
/// One batch: images as a single N x 3 x H x W float tensor and labels as an int64 tensor, both on the CPU
/// and owned by the receiver (dispose, or move into a dispose scope). <see cref="Indices"/> are the dataset
/// indices actually used (after a bad image was replaced), <see cref="Epoch"/> the pass it belongs to.
/// </summary>
public sealed class Batch(Tensor images, Tensor labels, int[] indices, int epoch) : IDisposable
{
    public Tensor Images { get; } = images;
    public Tensor Labels { get; } = labels;
    public IReadOnlyList<int> Indices { get; } = indices;
    public int Epoch { get; } = epoch;
    public int Count => Indices.Count;

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Models;

/// <summary>
/// TorchSharp's BatchNorm (the same parameters, buffers and state-dict names, the same LibTorch batch_norm call) with
/// a forward that holds its Scalars. TorchSharp 0.107's <c>BatchNorm.forward</c> counts a training batch with
/// <c>num_batches_tracked.add_(1)</c>, which makes two Scalars (the 1 and an alpha of 1) and leaves them to the garbage
/// collector, whose finalizer can free them while LibTorch reads them: in every BatchNorm of every training step
/// (docs/DESIGN.md, "Scalars"). Every model of Smile builds its BatchNorms here (<see cref="For2d"/>,
/// <see cref="For1d"/>); the analyzer (SMILE001) refuses TorchSharp's BatchNorm factories.
/// </summary>
public sealed class HeldBatchNorm : BatchNorm
{
    private readonly long[] inputDims;

    private HeldBatchNorm(long features, long[] inputDims, string name)
        : base(features, eps: 1e-5, momentum: 0.1, affine: true, track_running_stats: true, device: null, dtype: null, name)
    {
        this.inputDims = inputDims;
    }

    /// <summary>BatchNorm over the channels of N x C x H x W (torch.nn.BatchNorm2d with its defaults).</summary>
    public static HeldBatchNorm For2d(long channels) => new(channels, [4], "BatchNorm2d");

    /// <summary>BatchNorm over the features of N x C or N x C x L (torch.nn.BatchNorm1d with its defaults).</summary>
    public static HeldBatchNorm For1d(long features) => new(features, [2, 3], "BatchNorm1d");

    protected override void ValidateInputDimensions(Tensor input)
    {
        if (!inputDims.Contains(input.ndim))
            throw new ArgumentException($"expected {string.Join(" or ", inputDims.Select(d => $"{d}D"))} input, but got {input.ndim}D input.");
    }

    /// <summary>TorchSharp's BatchNorm.forward, line for line, with the batch count's Scalars held.</summary>
    public override Tensor forward(Tensor input)
    {
        ValidateInputDimensions(input);
        double averagingFactor = momentum ?? 0.0;
        if (training && track_running_stats && num_batches_tracked is not null)
        {
            num_batches_tracked.add_(TensorArithmetic.One, TensorArithmetic.One);
            // A null momentum is a cumulative average (PyTorch's 1 / num_batches_tracked); Smile's models keep 0.1.
            if (momentum is null) averagingFactor = 1.0 / num_batches_tracked.item<long>();
        }
        bool useBatchStatistics = training || (running_mean is null && running_var is null);
        bool passRunningStats = !training || track_running_stats;
        return nn.functional.batch_norm(input, passRunningStats ? running_mean : null, passRunningStats ? running_var : null,
            weight, bias, useBatchStatistics, averagingFactor, eps);
    }
}

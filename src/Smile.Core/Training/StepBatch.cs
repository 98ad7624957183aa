using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// What a regularizer gets of one training batch: images (N x 3 x H x W) and labels (N, int64) on the training
/// device, and what some methods need beyond them: per-sample weights (SimTrans's weighted CE; null means every
/// weight is 1) and the epoch the batch belongs to (methods that alternate their loss by epoch). The tensors
/// belong to the caller.
/// </summary>
public sealed record StepBatch(Tensor Images, Tensor Labels)
{
    /// <summary>One weight per image (N, float32, same device), or null when the run has no sample weights.</summary>
    public Tensor? Weights { get; init; }

    /// <summary>The 0-based epoch of the batch (the loader's, so a resumed run sees the same).</summary>
    public int Epoch { get; init; }
}

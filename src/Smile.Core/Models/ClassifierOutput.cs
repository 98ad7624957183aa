using static TorchSharp.torch;

namespace Smile.Models;

/// <summary>
/// What a forward pass returns. <see cref="Features"/> is the last convolutional feature map
/// (N x C x H x W, before pooling): SMILE's feature-mixup distillation works on it.
/// <see cref="AuxLogits"/> comes from <c>aux_fc</c>, a second head with the source classifier's shape,
/// present only when the model was built with one. The caller owns all three tensors.
/// </summary>
public sealed record ClassifierOutput(Tensor Logits, Tensor Features, Tensor? AuxLogits)
{
    /// <summary>The output of a forward that ran in a dispose scope, moved out of it, in fp32: under mixed precision
    /// (Training/Precision.cs) the convolutions and heads compute in bf16 or fp16, and every loss is then computed
    /// in fp32 from these. In fp32 the tensors are returned as they are.</summary>
    public static ClassifierOutput LeavingScope(Tensor logits, Tensor features, Tensor? auxLogits) =>
        new(Fp32(logits).MoveToOuterDisposeScope(), Fp32(features).MoveToOuterDisposeScope(), auxLogits is null ? null : Fp32(auxLogits).MoveToOuterDisposeScope());

    private static Tensor Fp32(Tensor t) => t.dtype == ScalarType.Float32 ? t : t.to(ScalarType.Float32);
}

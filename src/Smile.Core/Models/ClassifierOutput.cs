using static TorchSharp.torch;

namespace Smile.Models;

/// <summary>
/// What a forward pass returns. <see cref="Features"/> is the last convolutional feature map
/// (N x C x H x W, before pooling): SMILE's feature-mixup distillation works on it.
/// <see cref="AuxLogits"/> comes from <c>aux_fc</c>, a second head with the source classifier's shape,
/// present only when the model was built with one. The caller owns all three tensors.
/// </summary>
public sealed record ClassifierOutput(Tensor Logits, Tensor Features, Tensor? AuxLogits);

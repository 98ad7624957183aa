using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Smile.Models;

/// <summary>
/// What the trainer, the evaluator and the checkpoints need of a network, whatever its family (ResNet,
/// DenseNet, the shallow CNN): logits, the last feature map and an optional aux head
/// (<see cref="ClassifierOutput"/>), the architecture's name, and the name of its classifier head in the
/// state dict (torchvision's: <c>fc</c> for ResNets, <c>classifier</c> for DenseNets). The aux head is
/// always <c>aux_fc</c>, with the source classifier's shape.
/// </summary>
public abstract class ImageClassifier(string name) : Module<Tensor, ClassifierOutput>(name)
{
    /// <summary>The --model_arch name ("resnet50", "densenet121", "shallow_cnn").</summary>
    public abstract string Architecture { get; }

    /// <summary>State-dict prefix of the classifier head, without the dot ("fc", "classifier").</summary>
    public abstract string HeadName { get; }

    public abstract int NumClasses { get; }
    public abstract int? AuxClasses { get; }

    /// <summary>Channels of <see cref="ClassifierOutput.Features"/>.</summary>
    public abstract int FeatureChannels { get; }
}

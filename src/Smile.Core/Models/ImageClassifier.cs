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

    /// <summary>
    /// Draws the classifier head's starting values again, as the model's constructor initialised it, from
    /// <paramref name="generator"/> (a CPU generator: the same values on every device), and copies them into the head's
    /// parameters in place, so that an optimizer holding them keeps them. The default is torch.nn.Linear's:
    /// weight and bias uniform in ±1/√fan_in. RIFLE re-initialises the head with it.
    /// </summary>
    public virtual void ResetHead(Generator generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var weight = HeadParameter("weight");
        double bound = 1.0 / Math.Sqrt(weight.shape[1]);
        weight.copy_(empty(weight.shape, device: CPU).uniform_(-bound, bound, generator));
        var bias = HeadParameter("bias");
        bias.copy_(HeadBiasStartsAtZero ? zeros(bias.shape, device: CPU) : empty(bias.shape, device: CPU).uniform_(-bound, bound, generator));
    }

    /// <summary>torchvision's DenseNet sets its Linear biases to 0 after the default draw.</summary>
    protected virtual bool HeadBiasStartsAtZero => false;

    private TorchSharp.Modules.Parameter HeadParameter(string which) =>
        named_parameters().FirstOrDefault(p => p.name == $"{HeadName}.{which}").parameter
        ?? throw new InvalidOperationException($"{Architecture} has no {HeadName}.{which}");
}

using TorchSharp.Modules;

namespace Smile.Training;

/// <summary>SGD with Nesterov momentum (the fine-tuning optimizer; the reference's momentum 0.9): <see cref="MomentumSgd"/>
/// with nesterov: true.</summary>
public sealed class NesterovSgd(IEnumerable<(string Name, Parameter Param, bool Decay)> parameters, double lr, double momentum = 0.9, double weightDecay = 1e-4)
    : MomentumSgd(parameters, lr, momentum, weightDecay, nesterov: true);

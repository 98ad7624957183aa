using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>What the trainer needs of an optimizer: the rate it sets each iteration, a step, cleared gradients,
/// and its state by name for checkpoints (saved under the checkpoint's <c>optimizer.</c> prefix).</summary>
public interface IOptimizer : IDisposable
{
    double LearningRate { get; set; }
    void Step();
    void ZeroGrad();
    /// <summary>The optimizer's state tensors by name (it owns them).</summary>
    IReadOnlyDictionary<string, Tensor> State { get; }
    /// <summary>Restores <see cref="State"/> saved by the same kind of optimizer; mismatches throw before anything changes.</summary>
    void LoadState(IReadOnlyDictionary<string, Tensor> saved);
    /// <summary>Forgets the state of <paramref name="parameters"/> (momentum, Adam's moments and step count): their
    /// next step is a first step, as for a new parameter (RIFLE, after re-initialising the head).</summary>
    void ResetState(IEnumerable<TorchSharp.Modules.Parameter> parameters);
}

/// <summary>The optimizers by --optimizer name.</summary>
public static class Optimizers
{
    public static IReadOnlyList<string> Names { get; } = ["sgd", "adam"];

    /// <summary>sgd: Nesterov momentum 0.9 (the reference's); adam: torch.optim.Adam's defaults (betas 0.9, 0.999, eps 1e-8).
    /// <paramref name="lrScaleOf"/>: each parameter's factor on the learning rate, by name (null: 1).</summary>
    public static IOptimizer Create(string name, IEnumerable<(string Name, TorchSharp.Modules.Parameter Param, bool Decay)> parameters, double lr, double weightDecay,
        Func<string, double>? lrScaleOf = null) =>
        name switch
        {
            "sgd" => new MomentumSgd(parameters, lr, 0.9, weightDecay, nesterov: true, lrScaleOf),
            "adam" => new Adam(parameters, lr, weightDecay, lrScaleOf: lrScaleOf),
            _ => throw new ArgumentException($"unknown optimizer '{name}'; known: {string.Join(", ", Names)}"),
        };
}

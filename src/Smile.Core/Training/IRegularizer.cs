using Smile.Data;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// A fine-tuning method, whole: its settings (names, help, defaults, checks), what it loads before training,
/// the loss of one batch, which parameters weight decay applies to, and what happens after each optimizer step.
/// One class per method, registered by one line in <see cref="Regularizers"/>; nothing else names it
/// (docs/DESIGN.md, "Adding a method").
/// </summary>
public interface IRegularizer : IDisposable
{
    /// <summary>The registry name ("smile", "l2", ...), the value of the run's regularizer setting.</summary>
    string Name { get; }

    /// <summary>One line for help texts.</summary>
    string Summary => Name;

    /// <summary>The method's own settings; the CLI offers each as a flag of the same name.</summary>
    IReadOnlyList<MethodSetting> Settings => [];

    /// <summary>Reads and checks the method's settings; throws <see cref="MethodSettingException"/> naming the
    /// setting. Called once, before any data or weights are read.</summary>
    void Configure(MethodValues values) { }

    /// <summary>Loads what the method needs beyond the run's models (frozen networks, per-image weights), once,
    /// after <see cref="Configure"/>. The method owns what it loads and frees it in Dispose.</summary>
    void Prepare(MethodSetup setup) { }

    /// <summary>Whether <see cref="TrainingContext.Teacher"/> must be set (SMILE distils from the pre-trained source model).</summary>
    bool NeedsTeacher => false;

    /// <summary>Whether the method mixes its batches; <see cref="Loss"/> then gets the <see cref="MixPlan"/> of <see cref="DrawMix"/>.</summary>
    bool UsesMixup => false;

    /// <summary>The mixing of one batch (a coefficient and a permutation) from <paramref name="random"/>, or null.</summary>
    MixPlan? DrawMix(Random random, int batchSize) => null;

    /// <summary>The L2-SP strength when the run does not set one (the l2sp method's 0.01; 0, off, for the others).</summary>
    double DefaultL2spLambda => 0;

    /// <summary>The method that trains <paramref name="iteration"/> (0-based) of <paramref name="maxIters"/>: this
    /// one, or another for a phase of the run (SMILE's plain final iterations).</summary>
    IRegularizer ForIteration(long iteration, long maxIters) => this;

    /// <summary>Per-image loss weights for a batch of the training set's samples <paramref name="indices"/> (float32 on
    /// <paramref name="device"/>), or null when every weight is 1.</summary>
    Tensor? SampleWeights(IReadOnlyList<int> indices, Device device) => null;

    /// <summary>
    /// Student forward on <see cref="StepBatch.Images"/> (plus, for SMILE, a teacher forward without autograd, in eval mode) and the loss terms
    /// of one batch. The student runs in the mode the caller set (train mode for training: BatchNorm uses
    /// batch statistics and updates its running statistics). <paramref name="mix"/> is non-null iff
    /// <see cref="UsesMixup"/>. Temporaries are disposed before returning; the caller owns the result.
    /// </summary>
    StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix);

    /// <summary>Whether the method's step can be captured as a CUDA graph and replayed (Training/StepGraphs.cs): its loss
    /// reads only the batch, the mix's device tensors (<see cref="MixPlan.On"/>) and tensors that keep their addresses,
    /// makes no tensor from host data, and its <see cref="BeforeStep"/> does the same in every step. False unless the
    /// method says so; such a method's steps run eagerly.</summary>
    bool Capturable => false;

    /// <summary>Whether weight decay applies to a student parameter (l2sp: not on the backbone, which L2-SP
    /// regularises towards its pre-trained value instead; the others: every parameter).</summary>
    bool WeightDecayApplies(string parameterName) => true;

    /// <summary>Runs before the loss of iteration <paramref name="iteration"/> (0-based), after the gradients are
    /// cleared, with the optimizer: RIFLE re-initialises the head and forgets its optimizer state here. Every step
    /// calls it, also one whose update is later skipped.</summary>
    void BeforeStep(TrainingContext ctx, IOptimizer optimizer, long iteration) { }

    /// <summary>Runs after the optimizer step of iteration <paramref name="iteration"/> (0-based);
    /// SMILE updates its mean teacher here.</summary>
    void AfterStep(TrainingContext ctx, long iteration) { }

    void IDisposable.Dispose() { }
}

/// <summary>What a method may load against in <see cref="IRegularizer.Prepare"/>: the training set (its classes and
/// sample paths), the device, the crop size, and the run's log; the run's seed and length, for a method whose
/// schedule or draws depend on them (RIFLE); the run's save folder, for a method that keeps a file of its own there
/// (DELTA's attention cache).</summary>
public sealed record MethodSetup(ImageFolder Train, Device Device, int ImageSize, Serilog.ILogger Log)
{
    public int Seed { get; init; }
    public long MaxIters { get; init; }
    /// <summary>The run's save folder (created before <see cref="IRegularizer.Prepare"/>); null when there is none, as in a dry run.</summary>
    public string? Save { get; init; }
}

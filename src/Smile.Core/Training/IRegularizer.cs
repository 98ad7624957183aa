using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// A fine-tuning method: the loss of one batch, which parameters weight decay applies to, and what happens
/// after each optimizer step. One class per method, registered by one line in <see cref="Regularizers"/>.
/// </summary>
public interface IRegularizer
{
    /// <summary>The registry name ("smile", "l2", "mixup", "l2sp").</summary>
    string Name { get; }

    /// <summary>Whether <see cref="TrainingContext.Teacher"/> must be set (SMILE distils from it).</summary>
    bool NeedsTeacher { get; }

    /// <summary>The extra frozen networks the method needs, by role (ILS: "ils_teacher"); the trainer loads each
    /// from the file the run names for that role into <see cref="TrainingContext.FrozenNetworks"/>.</summary>
    IReadOnlyList<string> FrozenNetworks => [];

    /// <summary>Whether the method reads <see cref="StepBatch.Weights"/> (SimTrans's weighted CE); the trainer refuses
    /// sample weights for a method that would ignore them.</summary>
    bool UsesSampleWeights => false;

    /// <summary>Whether the method can use <see cref="TrainingContext.SimilarityNetwork"/> (SimTrans's graph term).</summary>
    bool UsesSimilarityNetwork => false;

    /// <summary>Whether the trainer must draw a <see cref="MixPlan"/> for each batch.</summary>
    bool UsesMixup { get; }

    /// <summary>
    /// Student forward on <see cref="StepBatch.Images"/> (plus, for SMILE, a teacher forward without autograd, in eval mode) and the loss terms
    /// of one batch. The student runs in the mode the caller set (train mode for training: BatchNorm uses
    /// batch statistics and updates its running statistics). <paramref name="mix"/> is non-null iff
    /// <see cref="UsesMixup"/>. Temporaries are disposed before returning; the caller owns the result.
    /// </summary>
    StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix);

    /// <summary>Whether weight decay applies to a student parameter (l2sp: not on the backbone, which L2-SP
    /// regularises towards its pre-trained value instead; the others: every parameter).</summary>
    bool WeightDecayApplies(string parameterName);

    /// <summary>Runs after the optimizer step of iteration <paramref name="iteration"/> (0-based);
    /// SMILE updates its mean teacher here.</summary>
    void AfterStep(TrainingContext ctx, long iteration);
}

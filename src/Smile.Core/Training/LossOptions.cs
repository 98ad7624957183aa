namespace Smile.Training;

/// <summary>
/// The loss terms every method adds (docs/DESIGN.md, "The SMILE step"): the classifier L2 and L2-SP. A method's
/// own weights (SMILE's aux_lambda, kd's temperature, ...) are its own settings, in its own file.
/// </summary>
/// <param name="ClsLambda">Weight of 0.5 * ||fc||^2 + 0.5 * ||aux_fc||^2.</param>
/// <param name="L2spLambda">L2-SP strength (alpha in Li et al. 2018); 0 turns the term off. The l2sp method
/// defaults it to 0.01 (<see cref="IRegularizer.DefaultL2spLambda"/>).</param>
public sealed record LossOptions(double ClsLambda = 1e-4, double L2spLambda = 0.0)
{
    /// <summary>One weight per target class for every label cross-entropy (<see cref="LossTerms.CrossEntropy"/>,
    /// <see cref="ClassLossWeights"/>); null: unweighted, the reference's loss.</summary>
    public IReadOnlyList<double>? ClassWeights { get; init; }
}

namespace Smile.Training;

/// <summary>
/// One mixup draw: x_mix = Lambda * x + (1 - Lambda) * x[Permutation]. Drawn on the CPU from a
/// <see cref="Random"/> (not from LibTorch's generator) so that a seeded run replays the same mixes whatever
/// the device, and so that a test can hand a regularizer an exact, known plan.
/// </summary>
public sealed record MixPlan(double Lambda, long[] Permutation)
{
    /// <summary>Device tensors that stand for this plan instead of new ones (a captured step's inputs, filled before
    /// each replay: Training/StepGraphs.cs); null: <see cref="On"/> makes them.</summary>
    internal MixWeights? Bound { get; init; }

    /// <summary>The plan on the device of <paramref name="images"/>, validated against their batch size: new tensors in the
    /// caller's dispose scope, or <see cref="Bound"/>'s.</summary>
    public MixWeights On(TorchSharp.torch.Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (Bound is { } bound) return bound;
        Validate(images.shape[0]);
        return MixWeights.Of(this, images.device);
    }

    /// <summary>The Beta(alpha, alpha) parameter, a setting of every method that mixes (mixup, smile).</summary>
    public static MethodSetting<double> Alpha { get; } = new("alpha", "Mixup's Beta(alpha, alpha) coefficient (0: no mixing).", 0.2, MethodSetting<double>.NonNegative);

    /// <summary>
    /// lam ~ Beta(alpha, alpha), folded to max(lam, 1 - lam) as the reference does (the image whose label
    /// dominates is always the unpermuted one); alpha &lt;= 0 gives lam = 1. One uniformly random permutation
    /// of the batch. Deterministic given the state of <paramref name="rng"/>.
    /// </summary>
    public static MixPlan Draw(Random rng, double alpha, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "a batch has at least one sample");
        if (double.IsNaN(alpha)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be a number");

        double lam = alpha > 0 ? BetaSampler.Symmetric(rng, alpha) : 1.0;
        lam = Math.Max(lam, 1.0 - lam);

        // Fisher-Yates: every permutation equally likely.
        var permutation = new long[batchSize];
        for (int i = 0; i < batchSize; i++) permutation[i] = i;
        for (int i = batchSize - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (permutation[i], permutation[j]) = (permutation[j], permutation[i]);
        }
        return new MixPlan(lam, permutation);
    }

    /// <summary>Throws unless <see cref="Permutation"/> is a permutation of 0..batchSize-1 and Lambda is in [0, 1].</summary>
    internal void Validate(long batchSize)
    {
        if (!(Lambda >= 0 && Lambda <= 1))
            throw new ArgumentException($"mixup lambda must be in [0, 1] (got {Lambda})");
        if (Permutation is null || Permutation.Length != batchSize)
            throw new ArgumentException($"mixup permutation has {Permutation?.Length ?? 0} entries for a batch of {batchSize}");
        var seen = new bool[batchSize];
        foreach (var p in Permutation)
        {
            if (p < 0 || p >= batchSize || seen[p])
                throw new ArgumentException($"mixup permutation [{string.Join(", ", Permutation)}] is not a permutation of 0..{batchSize - 1}");
            seen[p] = true;
        }
    }
}

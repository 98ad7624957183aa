namespace Smile.Training;

/// <summary>
/// Beta and Gamma variates from a <see cref="Random"/>: Beta(a, b) = X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b),
/// and Gamma by Marsaglia and Tsang (2000). .NET has no Beta sampler, and LibTorch's would tie the mixup
/// draws to the torch generator and device.
/// </summary>
internal static class BetaSampler
{
    /// <summary>A draw from Beta(alpha, alpha).</summary>
    public static double Symmetric(Random rng, double alpha)
    {
        if (!(alpha > 0)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "Beta needs alpha > 0");
        // In log space: for mixup's alpha = 0.2 a Gamma(0.2) draw is below 1e-300 now and then, and
        // X / (X + Y) would become 0 / 0. lam = 1 / (1 + Y / X) = 1 / (1 + exp(log Y - log X)).
        double logX = LogGamma(rng, alpha);
        double logY = LogGamma(rng, alpha);
        return 1.0 / (1.0 + Math.Exp(logY - logX));
    }

    /// <summary>log of a Gamma(shape, 1) draw.</summary>
    public static double LogGamma(Random rng, double shape)
    {
        if (shape >= 1) return Math.Log(MarsagliaTsang(rng, shape));
        // Boost for shape < 1 (Marsaglia and Tsang, section 6): Gamma(a) = Gamma(a + 1) * U^(1/a).
        return Math.Log(MarsagliaTsang(rng, shape + 1)) + Math.Log(OpenUnit(rng)) / shape;
    }

    /// <summary>Gamma(shape, 1) for shape &gt;= 1: a squeeze-accelerated rejection sampler on a cubed normal.</summary>
    private static double MarsagliaTsang(Random rng, double shape)
    {
        double d = shape - 1.0 / 3.0;
        double c = 1.0 / Math.Sqrt(9.0 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = StandardNormal(rng);
                v = 1.0 + c * x;
            } while (v <= 0);
            v = v * v * v;
            double u = OpenUnit(rng);
            double x2 = x * x;
            if (u < 1.0 - 0.0331 * x2 * x2) return d * v;
            if (Math.Log(u) < 0.5 * x2 + d * (1.0 - v + Math.Log(v))) return d * v;
        }
    }

    /// <summary>Box-Muller; one of the pair is dropped, which costs a log and a sqrt and keeps no state.</summary>
    private static double StandardNormal(Random rng) =>
        Math.Sqrt(-2.0 * Math.Log(OpenUnit(rng))) * Math.Cos(2.0 * Math.PI * rng.NextDouble());

    /// <summary>Uniform on (0, 1]: never 0, so its logarithm is finite.</summary>
    private static double OpenUnit(Random rng) => 1.0 - rng.NextDouble();
}

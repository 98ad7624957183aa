using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

public sealed class MixPlanTests
{
    [Fact]
    public void LambdaIsFoldedIntoTheUpperHalfAndThePermutationIsOneOfTheBatch()
    {
        var rng = new Random(1);
        for (int i = 0; i < 2000; i++)
        {
            int n = 1 + i % 13;
            var plan = MixPlan.Draw(rng, 0.2, n);
            Assert.InRange(plan.Lambda, 0.5, 1.0);
            Assert.Equal(Enumerable.Range(0, n).Select(k => (long)k), plan.Permutation.Order());
        }
    }

    [Fact]
    public void TheSameSeedGivesTheSamePlans()
    {
        var a = new Random(42);
        var b = new Random(42);
        var c = new Random(43);
        var fromA = Enumerable.Range(0, 50).Select(_ => MixPlan.Draw(a, 0.2, 8)).ToList();
        var fromB = Enumerable.Range(0, 50).Select(_ => MixPlan.Draw(b, 0.2, 8)).ToList();
        var fromC = Enumerable.Range(0, 50).Select(_ => MixPlan.Draw(c, 0.2, 8)).ToList();
        for (int i = 0; i < fromA.Count; i++)
        {
            Assert.Equal(fromA[i].Lambda, fromB[i].Lambda);
            Assert.Equal(fromA[i].Permutation, fromB[i].Permutation);
        }
        Assert.NotEqual(fromA.Select(p => p.Lambda), fromC.Select(p => p.Lambda));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    public void NoPositiveAlphaMeansNoMixing(double alpha)
    {
        var plan = MixPlan.Draw(new Random(3), alpha, 6);
        Assert.Equal(1.0, plan.Lambda);
        Assert.Equal(6, plan.Permutation.Length);
    }

    [Fact]
    public void PermutationsAreUniform()
    {
        // 3! = 6 permutations of a batch of 3, 60k draws: each about 10k (standard deviation about 91).
        var rng = new Random(11);
        var counts = new Dictionary<string, int>();
        for (int i = 0; i < 60_000; i++)
        {
            var key = string.Join(",", MixPlan.Draw(rng, 0.2, 3).Permutation);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        Assert.Equal(6, counts.Count);
        Assert.All(counts.Values, c => Assert.InRange(c, 9_500, 10_500));
    }

    [Theory]
    [InlineData(0.2)] // mixup's and SMILE's default: most draws near 0 or 1
    [InlineData(1.0)] // Beta(1, 1) is uniform: E[max(U, 1 - U)] = 3/4
    [InlineData(4.0)] // a Gamma shape above 1, the sampler's other branch
    public void FoldedLambdaHasTheAnalyticMean(double alpha)
    {
        const int draws = 10_000;
        var rng = new Random(2024);
        var lams = Enumerable.Range(0, draws).Select(_ => MixPlan.Draw(rng, alpha, 2).Lambda).ToArray();
        double mean = lams.Average();
        double sd = Math.Sqrt(lams.Select(l => (l - mean) * (l - mean)).Sum() / (draws - 1));
        double expected = FoldedBetaMean(alpha);
        // Five standard errors: a wrong sampler (a Beta(1, 1) in place of Beta(0.2, 0.2) is off by about 0.12) fails.
        Assert.True(Math.Abs(mean - expected) < 5 * sd / Math.Sqrt(draws),
            $"alpha {alpha}: mean of max(lam, 1 - lam) over {draws} draws {mean:F4}, analytic {expected:F4} (sd {sd:F3})");
    }

    [Theory]
    [InlineData(0.2)]
    [InlineData(0.5)]
    [InlineData(2.5)]
    public void GammaDrawsHaveTheirShapeAsMean(double shape)
    {
        // Gamma(k, 1) has mean k and variance k.
        const int draws = 20_000;
        var rng = new Random(5);
        double mean = Enumerable.Range(0, draws).Select(_ => Math.Exp(BetaSampler.LogGamma(rng, shape))).Average();
        Assert.True(Math.Abs(mean - shape) < 5 * Math.Sqrt(shape / draws), $"Gamma({shape}): mean {mean:F4}");
    }

    [Fact]
    public void AnInvalidPlanIsRejectedByTheRegularizer()
    {
        Assert.Throws<ArgumentException>(() => new MixPlan(0.7, [0, 1, 1, 3]).Validate(4));
        Assert.Throws<ArgumentException>(() => new MixPlan(0.7, [0, 1, 2]).Validate(4));
        Assert.Throws<ArgumentException>(() => new MixPlan(1.5, [0, 1, 2, 3]).Validate(4));
        new MixPlan(0.7, [3, 1, 0, 2]).Validate(4);
    }

    /// <summary>
    /// E[max(X, 1 - X)] for X ~ Beta(a, a), by quadrature: by symmetry it is the mean of X given X &gt;= 1/2,
    /// int_{1/2}^1 x f(x) dx / int_{1/2}^1 f(x) dx with f(x) = x^(a-1) (1-x)^(a-1) unnormalised. The substitution
    /// u = (1 - x)^a absorbs the singularity at x = 1 ((1-x)^(a-1) dx = -du / a), leaving smooth integrands on
    /// [0, 2^-a] that Simpson's rule integrates to far better than the test needs.
    /// </summary>
    private static double FoldedBetaMean(double a)
    {
        double upper = Math.Pow(0.5, a);
        double X(double u) => 1 - Math.Pow(u, 1 / a);
        double numerator = Simpson(u => Math.Pow(X(u), a), upper);
        double denominator = Simpson(u => Math.Pow(X(u), a - 1), upper);
        return numerator / denominator;
    }

    private static double Simpson(Func<double, double> f, double upper, int intervals = 20_000)
    {
        double h = upper / intervals, sum = f(0) + f(upper);
        for (int i = 1; i < intervals; i++) sum += f(i * h) * (i % 2 == 1 ? 4 : 2);
        return sum * h / 3;
    }

    [Fact]
    public void AChannelsLastBatchMixesIntoAChannelsLastBatchWithTheSameValues()
    {
        // x[p] from index_select is NCHW whatever x is; the rows must keep the channels-last layout of the batch, so
        // that the mixing sum does not meet two layouts (slow), and the mixed batch is channels-last as the student's
        // convolutions get it.
        using var scope = NewDisposeScope();
        var plan = MixPlan.Draw(new Random(3), 0.2, 5);
        var plain = randn(5, 3, 4, 6);
        var channelsLast = CudaSpeed.ToChannelsLast(plain);
        Assert.Equal(new long[] { 72, 1, 18, 3 }, channelsLast.stride());
        var permutation = tensor(plan.Permutation);
        var rows = LossTerms.RowsInLayout(channelsLast, permutation);
        Assert.Equal(new long[] { 72, 1, 18, 3 }, rows.stride());
        Assert.True(plain.index_select(0, permutation).equal(rows).all().item<bool>());
        Assert.Equal(new long[] { 72, 24, 6, 1 }, LossTerms.RowsInLayout(plain, permutation).stride());
        var mixed = LossTerms.Mix(channelsLast, plan.On(channelsLast));
        Assert.Equal(new long[] { 72, 1, 18, 3 }, mixed.stride());
        Assert.True(LossTerms.Mix(plain, plan.On(plain)).equal(mixed).all().item<bool>());
        Assert.Equal(new long[] { 72, 24, 6, 1 }, LossTerms.Mix(plain, plan.On(plain)).stride());
    }

    [Fact]
    public void TheDeviceFormMixesExactlyAsTheHostNumbersDo()
    {
        // The losses read lam and 1 - lam from 0-dim tensors (so that a captured step can be replayed with new ones):
        // the products, the losses and their gradients must be those of the host doubles, bit for bit.
        using var scope = NewDisposeScope();
        var plan = MixPlan.Draw(new Random(7), 0.2, 6);
        Assert.NotEqual(0.5, plan.Lambda);
        var x = randn(6, 3, 5, 5);
        var index = tensor(plan.Permutation);
        var mix = plan.On(x);
        Assert.True(x.Times(plan.Lambda).Plus(x.index_select(0, index).Times(1.0 - plan.Lambda)).equal(LossTerms.Mix(x, mix)).all().item<bool>());

        var logits = randn(6, 4).requires_grad_();
        var labels = tensor(new long[] { 0, 3, 1, 2, 2, 0 });
        var host = nn.functional.cross_entropy(logits, labels).Times(plan.Lambda).Plus(nn.functional.cross_entropy(logits, labels.index_select(0, index)).Times(1.0 - plan.Lambda));
        var hostGrad = torch.autograd.grad([host], [logits])[0];
        var device = LossTerms.MixedCrossEntropy(logits, labels, mix);
        var deviceGrad = torch.autograd.grad([device], [logits])[0];
        Assert.Equal(host.item<float>(), device.item<float>());
        Assert.True(hostGrad.equal(deviceGrad).all().item<bool>());

        // Filled into persistent tensors (a captured step's inputs), the plan reads back the same.
        using var persistent = MixWeights.Persistent(6, CPU);
        persistent.Fill(plan);
        Assert.True(LossTerms.Mix(x, mix).equal(LossTerms.Mix(x, persistent)).all().item<bool>());
        Assert.Throws<ArgumentException>(() => persistent.Fill(MixPlan.Draw(new Random(7), 0.2, 5)));
    }
}

using Smile.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// RIFLE (Li et al. 2020, "RIFLE: Backpropagation in Depth for Deep Transfer Learning through Re-Initializing the
/// Fully-connected LayEr"): the l2 baseline's loss, with the new classifier head (fc, or a DenseNet's classifier;
/// never aux_fc) drawn again at fixed boundaries, so that the backbone keeps receiving large gradients.
/// <para>
/// Schedule, as the authors' code splits training: rifle_times re-initialisations cut the run into rifle_times + 1
/// equal periods, the b-th boundary (b = 1..rifle_times) at iteration ⌊b · max_iters / (rifle_times + 1)⌋; the default 3
/// is PaddleTransfer's (epochs 10, 20, 30 of 40). rifle_period, when set, puts a boundary at every multiple of it
/// instead. No boundary at iteration 0 or at the end (the authors' code re-initialises once more after its last test).
/// </para>
/// <para>
/// At a boundary, before that iteration's loss: weight and bias take the head's starting initialisation again
/// (<see cref="Models.ImageClassifier.ResetHead"/>), drawn from a CPU generator seeded by (run seed, b), so a resumed
/// run re-initialises exactly as a straight one; and the optimizer forgets the head's state (momentum), so the old
/// head's velocity does not drag the new one. Neither published implementation resets it; docs/METHODS.md says why here.
/// </para>
/// </summary>
public sealed class RifleRegularizer : IRegularizer
{
    private static readonly MethodSetting<long> TimesSetting = new("rifle_times",
        "RIFLE: how many times the head is re-initialised, at equal fractions of max_iters (3).", 3L,
        t => t >= 1 ? null : "must be 1 or more") { OnlyForItsMethods = true };

    private static readonly MethodSetting<long> PeriodSetting = new("rifle_period",
        "RIFLE: re-initialise the head every this many iterations instead (0: use rifle_times).", 0L,
        p => p >= 0 ? null : "must be 0 or more") { OnlyForItsMethods = true };

    private int seed;
    private long maxIters;
    private Serilog.ILogger? log;

    public string Name => "rifle";
    public string Summary => "RIFLE: the l2 loss, with the new head re-initialised (and its momentum reset) at fixed boundaries.";
    public IReadOnlyList<MethodSetting> Settings => [TimesSetting, PeriodSetting];

    public long Times { get; private set; } = TimesSetting.Default;
    public long Period { get; private set; } = PeriodSetting.Default;

    public void Configure(MethodValues values)
    {
        ArgumentNullException.ThrowIfNull(values);
        Times = values.Get(TimesSetting);
        Period = values.Get(PeriodSetting);
        if (Period > 0 && values.IsGiven(TimesSetting.Name) && Times != TimesSetting.Default)
            throw new MethodSettingException(PeriodSetting.Name, "give rifle_period or rifle_times, not both");
    }

    public void Prepare(MethodSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        (seed, maxIters, log) = (setup.Seed, setup.MaxIters, setup.Log);
    }

    /// <summary>For a run of <paramref name="iterations"/> without <see cref="Prepare"/> (tests, benchmarks).</summary>
    public void SetRun(int runSeed, long iterations) => (seed, maxIters) = (runSeed, iterations);

    /// <summary>The boundary index b (1-based) of <paramref name="iteration"/>, or 0 when it is not a boundary.</summary>
    public long BoundaryAt(long iteration)
    {
        if (iteration <= 0 || iteration >= maxIters) return 0;
        if (Period > 0) return iteration % Period == 0 ? iteration / Period : 0;
        // Iteration i is the b-th boundary iff ⌊b·T/(R+1)⌋ = i; b is the smallest with b·T ≥ i·(R+1).
        long r1 = Times + 1;
        long b = (iteration * r1 + maxIters - 1) / maxIters;
        return b >= 1 && b <= Times && b * maxIters / r1 == iteration ? b : 0;
    }

    public void BeforeStep(TrainingContext ctx, IOptimizer optimizer, long iteration)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(optimizer);
        long boundary = BoundaryAt(iteration);
        if (boundary == 0) return;
        var student = ctx.Student;
        using (var generator = new Generator(unchecked((ulong)(uint)SampleRandom.Seed(seed, boundary, 0x41F1E))))
            student.ResetHead(generator);
        var prefix = student.HeadName + ".";
        optimizer.ResetState(student.named_parameters().Where(p => p.name.StartsWith(prefix, StringComparison.Ordinal)).Select(p => p.parameter));
        log?.Information("RIFLE: {Head} re-initialised before iteration {Iteration} (boundary {Boundary}), its optimizer state reset",
            student.HeadName, iteration, boundary);
    }

    public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(batch);
        using var scope = NewDisposeScope();
        var terms = LossTerms.Plain(ctx, batch.Images, batch.Labels, out var accuracy);
        L2SpTerm.AddIfEnabled(ctx, terms);
        return LossTerms.Finish(terms, accuracy);
    }
}

using System.Diagnostics;
using Smile.Data;
using Smile.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// DELTA (Li et al. 2019, "DELTA: DEep Learning Transfer using Feature Map with Attention"), as TLlib states it:
/// CE + delta_alpha · Ω + delta_beta · ½‖head‖², where Ω compares the student's feature maps with those of the frozen
/// pre-trained source network (the run's teacher, eval mode, no autograd) on the same batch. The maps are the outputs of
/// each stage's last block's last convolution before its BatchNorm (<see cref="ResNet.StageMapLayers"/>: layer1.2.conv3,
/// layer2.3.conv3, layer3.5.conv3, layer4.2.conv3 in a ResNet-50; conv2 in a BasicBlock ResNet). With attention
/// (delta_attention on): Ω = Σ_j ½ Σ_b Σ_c (C_j a_jc / (H_j W_j)) ‖FM_jc(w, x_b) − FM_jc(w⁰, x_b)‖², a sum over the batch;
/// off: TLlib's plain feature_map variant, Σ_j ½ ‖FM_j(w, x) − FM_j(w⁰, x)‖².
/// <para>
/// The channel attention a_j is computed once per run, before its first step (<see cref="BeforeStep"/>): a new head on
/// the frozen source backbone (eval mode) trained for delta_attention_epochs epochs (SGD lr 0.01, momentum 0.9, weight
/// decay 1e-4, the rate ×0.1 every 6 epochs, continuously), then over the first delta_attention_batches training batches
/// the rise of the CE when channel c's filter is zeroed, averaged, standardised within the layer and
/// a_j = softmax(Δ̂_j / 5) (<see cref="ChannelAttention"/>). It is logged, not cached: a resumed run computes it again
/// from the same seed.
/// </para>
/// <para>Weight decay applies to no parameter (TLlib's and the original's 0): the feature-map term stands in for it on the
/// backbone and delta_beta on the head. BatchNorm running statistics are buffers, never regularized.</para>
/// </summary>
public sealed class DeltaRegularizer : IRegularizer
{
    private static readonly MethodSetting<double> AlphaSetting = new("delta_alpha",
        "DELTA: weight of the feature-map distance to the source network (0.01, TLlib's and the original's).", 0.01,
        MethodSetting<double>.NonNegative) { OnlyForItsMethods = true };

    private static readonly MethodSetting<double> BetaSetting = new("delta_beta",
        "DELTA: weight of ½ the squared norm of the new head, in place of cls_lambda (0.01).", 0.01,
        MethodSetting<double>.NonNegative) { OnlyForItsMethods = true };

    private static readonly MethodSetting<string> AttentionSetting = new("delta_attention",
        "DELTA: 'on' weighs channels by the attention pre-pass; 'off' is TLlib's plain feature_map distance.", "on",
        v => v is "on" or "off" ? null : "must be on or off") { OnlyForItsMethods = true };

    private static readonly MethodSetting<long> BatchesSetting = new("delta_attention_batches",
        "DELTA: training batches the channel ablation averages over (4, the original's).", 4L,
        v => v >= 1 ? null : "must be 1 or more") { OnlyForItsMethods = true };

    private static readonly MethodSetting<long> EpochsSetting = new("delta_attention_epochs",
        "DELTA: epochs the attention pre-pass trains its head on the frozen source network (10, the original's).", 10L,
        v => v >= 0 ? null : "must be 0 or more") { OnlyForItsMethods = true };

    /// <summary>The original's batch size for the attention pre-pass.</summary>
    private const int AttentionBatchSize = 32;

    /// <summary>Elements of edited maps one ablation pass may hold (several channels' ablations share a pass).</summary>
    private const long AblationBudget = 1L << 24;

    private MethodSetup? setup;
    private float[][]? attention;
    private Tensor[]? attentionOnDevice;

    public string Name => "delta";
    public string Summary => "DELTA: CE plus the attention-weighted distance of the stages' feature maps to the frozen source network's, and L2 on the head.";
    public bool NeedsTeacher => true;
    public IReadOnlyList<MethodSetting> Settings => [AlphaSetting, BetaSetting, AttentionSetting, BatchesSetting, EpochsSetting];

    public double Alpha { get; private set; } = AlphaSetting.Default;
    public double Beta { get; private set; } = BetaSetting.Default;
    public bool UsesAttention { get; private set; } = true;
    public long AttentionBatches { get; private set; } = BatchesSetting.Default;
    public long AttentionEpochs { get; private set; } = EpochsSetting.Default;

    /// <summary>The channel attention per stage (each sums to 1), once computed or given; null before.</summary>
    public IReadOnlyList<float[]>? Attention => attention;

    public void Configure(MethodValues values)
    {
        ArgumentNullException.ThrowIfNull(values);
        Alpha = values.Get(AlphaSetting);
        Beta = values.Get(BetaSetting);
        UsesAttention = values.Get(AttentionSetting) != "off";
        AttentionBatches = values.Get(BatchesSetting);
        AttentionEpochs = values.Get(EpochsSetting);
    }

    public void Prepare(MethodSetup setup) => this.setup = setup ?? throw new ArgumentNullException(nameof(setup));

    /// <summary>Uses <paramref name="weights"/> (one array per stage, its length the stage's channels) as the channel
    /// attention instead of the pre-pass (tests, or an attention computed elsewhere).</summary>
    public void UseAttention(IReadOnlyList<float[]> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (weights.Count != 4) throw new ArgumentException($"expected 4 stages' attention, got {weights.Count}");
        FreeDeviceCopies();
        attention = weights.Select(w => (float[])w.Clone()).ToArray();
    }

    /// <summary>No weight decay anywhere: DELTA's own terms replace it (TLlib and the original train DELTA with weight decay 0).</summary>
    public bool WeightDecayApplies(string parameterName) => false;

    /// <summary>Runs the attention pre-pass before the run's first step (on a resumed run, before its first step too).</summary>
    public void BeforeStep(TrainingContext ctx, IOptimizer optimizer, long iteration)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        if (!UsesAttention || attention is not null) return;
        var run = setup ?? throw new InvalidOperationException("delta_attention on needs the training set for its pre-pass: call Prepare (or UseAttention) first");
        var source = SourceOf(ctx);
        var clock = Stopwatch.StartNew();
        var loader = new BatchLoader(run.Train, TransformSpec.ForTraining(run.ImageSize),
            new LoaderOptions(AttentionBatchSize, 0, SampleRandom.Seed(run.Seed, 0, 0xDE17A), Shuffle: true, DropLast: false), run.Log);
        var (weight, bias) = TrainHead(source, loader, run.Train.Classes.Count, AttentionEpochs, run.Seed, ctx.Device);
        using (weight)
        using (bias)
            attention = ChannelAttention(source, weight, bias, AblationBatches(loader, (int)AttentionEpochs, ctx.Device));
        var layers = source.StageMapLayers;
        for (int j = 0; j < 4; j++)
            run.Log.Information("DELTA attention {Layer}: {Channels} channels, weights {Min:G3} to {Max:G3}",
                layers[j], attention[j].Length, attention[j].Min(), attention[j].Max());
        run.Log.Information("DELTA attention computed in {Seconds:F1} s ({Epochs} head epochs, {Batches} ablation batches)",
            clock.Elapsed.TotalSeconds, AttentionEpochs, AttentionBatches);
    }

    private IEnumerable<(Tensor Images, Tensor Labels)> AblationBatches(BatchLoader loader, int epoch, Device device)
    {
        long taken = 0;
        foreach (var batch in loader.Batches(epoch, cycle: true))
        {
            using (batch)
            using (var scope = NewDisposeScope())
                yield return (batch.Images.to(device), batch.Labels.to(device));
            if (++taken >= AttentionBatches) yield break;
        }
    }

    public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(batch);
        var student = ctx.Student as ResNet ?? throw new InvalidOperationException($"the delta regularizer reads ResNet stages' feature maps; {ctx.Student.Architecture} has none");
        var source = SourceOf(ctx);
        using var scope = NewDisposeScope();
        var maps = new Tensor[4];
        var output = student.ForwardWithStageMaps(batch.Images, maps);
        var sourceMaps = new Tensor[4];
        using (no_grad())
        {
            source.eval();
            source.ForwardWithStageMaps(batch.Images, sourceMaps);
        }
        var terms = new List<(string, Tensor)>
        {
            ("main", LossTerms.CrossEntropy(ctx, output.Logits, batch.Labels)),
            ("head", LossTerms.ClassifierL2(ctx) * Beta),
            ("delta", FeatureMapDistance(maps, sourceMaps, UsesAttention ? AttentionOn(ctx.Device) : null) * Alpha),
        };
        L2SpTerm.AddIfEnabled(ctx, terms);
        return LossTerms.Finish(terms, LossTerms.Accuracy(output.Logits, batch.Labels));
    }

    /// <summary>Ω without α: with <paramref name="attention"/> (C_j weights per stage) Σ_j ½ Σ_b Σ_c C_j a_jc ‖ΔFM_jc‖² / (H_j W_j),
    /// without Σ_j ½ ‖ΔFM_j‖²; the source maps are detached.</summary>
    public static Tensor FeatureMapDistance(IReadOnlyList<Tensor> student, IReadOnlyList<Tensor> source, IReadOnlyList<Tensor>? attention)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(source);
        if (student.Count != source.Count || attention is not null && attention.Count != student.Count)
            throw new ArgumentException("expected as many source maps (and attention vectors) as student maps");
        using var scope = NewDisposeScope();
        Tensor? total = null;
        for (int j = 0; j < student.Count; j++)
        {
            if (!student[j].shape.SequenceEqual(source[j].shape))
                throw new InvalidOperationException($"student map [{string.Join(", ", student[j].shape)}] and source map [{string.Join(", ", source[j].shape)}] differ in shape");
            var squared = (student[j] - source[j].detach()).square().sum([2L, 3L]); // B x C
            Tensor layer;
            if (attention is null) layer = squared.sum() * 0.5;
            else
            {
                long channels = squared.shape[1], spatial = student[j].shape[2] * student[j].shape[3];
                if (attention[j].shape[0] != channels) throw new ArgumentException($"stage {j + 1} has {channels} channels but {attention[j].shape[0]} attention weights");
                layer = (squared * attention[j]).sum() * (0.5 * channels / spatial);
            }
            total = total is null ? layer : total + layer;
        }
        return (total ?? throw new ArgumentException("no feature maps")).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The channel attention of <paramref name="source"/> (frozen, put in eval mode) with the head (<paramref name="weight"/>,
    /// <paramref name="bias"/>) on its pooled features, over <paramref name="batches"/>: for each stage j and channel c, Δ_jc =
    /// CE with that channel of the stage map zeroed − CE intact, each a batch mean, averaged over the batches; then
    /// a_j = softmax(((Δ_j − mean Δ_j) / std Δ_j) / 5), the population std; uniform when every Δ_jc of the stage is equal.
    /// Several channels' ablations run as one batch (<see cref="ResNet.FeaturesFromStageMap"/>).
    /// </summary>
    public static float[][] ChannelAttention(ResNet source, Tensor weight, Tensor bias, IEnumerable<(Tensor Images, Tensor Labels)> batches)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(batches);
        source.eval();
        double[][]? sums = null;
        int count = 0;
        using var noGrad = no_grad();
        foreach (var (images, labels) in batches)
        {
            using var scope = NewDisposeScope();
            var maps = new Tensor[4];
            var inputs = new Tensor[4];
            var output = source.ForwardWithStageMaps(images, maps, inputs);
            var intact = nn.functional.cross_entropy(Head(output.Features, weight, bias), labels).item<float>();
            sums ??= maps.Select(m => new double[m.shape[1]]).ToArray();
            for (int j = 0; j < 4; j++)
                AddAblations(source, j, inputs[j], maps[j], labels, weight, bias, intact, sums[j]);
            count++;
        }
        if (sums is null) throw new ArgumentException("the attention pre-pass got no batches");
        return sums.Select(s => Softmax(s.Select(v => v / count).ToArray())).ToArray();
    }

    private static void AddAblations(ResNet source, int stage, Tensor input, Tensor map, Tensor labels, Tensor weight, Tensor bias, float intact, double[] sums)
    {
        long n = map.shape[0], channels = map.shape[1];
        long perCopy = map.numel();
        for (long first = 0; first < channels;)
        {
            using var scope = NewDisposeScope();
            long k = Math.Clamp(AblationBudget / Math.Max(perCopy, 1), 1, channels - first);
            // Copy i has channel first + i zeroed.
            var keep = ones(k, channels, device: map.device)
                .scatter_(1, arange(first, first + k, dtype: ScalarType.Int64, device: map.device).unsqueeze(1), zeros(k, 1, device: map.device));
            var edited = (map.unsqueeze(0) * keep.view(k, 1, channels, 1, 1)).reshape([k * n, .. map.shape[1..]]);
            var repeated = input.unsqueeze(0).expand([k, .. input.shape]).reshape([k * n, .. input.shape[1..]]);
            var features = source.FeaturesFromStageMap(stage, repeated, edited);
            var perImage = nn.functional.cross_entropy(Head(features, weight, bias), labels.repeat(k), reduction: nn.Reduction.None);
            var rise = (perImage.view(k, n).mean([1L]) - intact).to(ScalarType.Float64).cpu().data<double>().ToArray();
            for (long i = 0; i < k; i++) sums[first + i] += rise[i];
            first += k;
        }
    }

    /// <summary>softmax(((x − mean) / std) / 5) with the population std, as the original; uniform when std is 0.</summary>
    public static float[] Softmax(double[] rises)
    {
        ArgumentNullException.ThrowIfNull(rises);
        double mean = rises.Average();
        double std = Math.Sqrt(rises.Select(v => (v - mean) * (v - mean)).Average());
        if (!(std > 0) || !double.IsFinite(std)) return rises.Select(_ => (float)(1.0 / rises.Length)).ToArray();
        var scaled = rises.Select(v => (v - mean) / std / 5).ToArray();
        double max = scaled.Max();
        var e = scaled.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => (float)(v / sum)).ToArray();
    }

    /// <summary>
    /// The pre-pass's head: a new Linear (torch's default draw, from a CPU generator seeded by <paramref name="seed"/>) on the
    /// pooled features of the frozen <paramref name="source"/> (eval mode, no autograd through it), trained for
    /// <paramref name="epochs"/> epochs of <paramref name="loader"/> by SGD (lr 0.01 · 0.1^(epoch / 6), momentum 0.9, weight
    /// decay 1e-4). The caller owns the returned weight and bias (on <paramref name="device"/>).
    /// </summary>
    public static (Tensor Weight, Tensor Bias) TrainHead(ResNet source, BatchLoader loader, int classes, long epochs, int seed, Device device)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(loader);
        source.eval();
        long features = source.FeatureChannels;
        double bound = 1.0 / Math.Sqrt(features);
        Tensor weight, bias;
        using (var generator = new Generator(unchecked((ulong)(uint)SampleRandom.Seed(seed, 1, 0xDE17A))))
        {
            weight = empty(classes, features).uniform_(-bound, bound, generator).to(device).DetachFromDisposeScope();
            bias = empty(classes).uniform_(-bound, bound, generator).to(device).DetachFromDisposeScope();
        }
        Tensor[] velocity = [zeros_like(weight).DetachFromDisposeScope(), zeros_like(bias).DetachFromDisposeScope()];
        try
        {
            for (int epoch = 0; epoch < epochs; epoch++)
            {
                double lr = 0.01 * Math.Pow(0.1, epoch / 6.0);
                foreach (var batch in loader.Batches(epoch))
                {
                    using var owned = batch;
                    using var scope = NewDisposeScope();
                    Tensor pooled;
                    using (no_grad()) pooled = source.call(batch.Images.to(device)).Features.mean([2L, 3L]);
                    var w = weight.requires_grad_(true);
                    var b = bias.requires_grad_(true);
                    nn.functional.cross_entropy(Head(pooled, w, b, pooledAlready: true), batch.Labels.to(device)).backward();
                    using var noGrad = no_grad();
                    Tensor[] parameters = [weight, bias];
                    for (int i = 0; i < 2; i++)
                    {
                        var step = parameters[i].grad!.add(parameters[i], alpha: 1e-4);
                        velocity[i].mul_(0.9).add_(step);
                        parameters[i].add_(velocity[i], alpha: -lr);
                        parameters[i].grad!.zero_();
                    }
                }
            }
            weight.requires_grad_(false);
            bias.requires_grad_(false);
            return (weight, bias);
        }
        catch
        {
            weight.Dispose();
            bias.Dispose();
            throw;
        }
        finally
        {
            foreach (var v in velocity) v.Dispose();
        }
    }

    private static Tensor Head(Tensor features, Tensor weight, Tensor bias, bool pooledAlready = false) =>
        nn.functional.linear(pooledAlready ? features : features.mean([2L, 3L]), weight, bias);

    private static ResNet SourceOf(TrainingContext ctx) => ctx.Teacher as ResNet
        ?? throw new InvalidOperationException("the delta regularizer needs the pre-trained source network as a ResNet teacher");

    private Tensor[] AttentionOn(Device device)
    {
        var weights = attention ?? throw new InvalidOperationException("delta_attention on: the channel attention is not computed yet (BeforeStep runs the pre-pass)");
        if (attentionOnDevice is null || attentionOnDevice[0].device != device)
        {
            FreeDeviceCopies();
            attentionOnDevice = weights.Select(w => tensor(w, device: device).DetachFromDisposeScope()).ToArray();
        }
        return attentionOnDevice;
    }

    private void FreeDeviceCopies()
    {
        if (attentionOnDevice is null) return;
        foreach (var t in attentionOnDevice) t.Dispose();
        attentionOnDevice = null;
    }

    public void Dispose() => FreeDeviceCopies();
}

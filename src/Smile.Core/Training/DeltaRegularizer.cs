using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Smile.Data;
using Smile.Models;
using Smile.Weights;
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
/// a_j = softmax(Δ̂_j / 5) (<see cref="ChannelAttention"/>). It is logged and cached, as TLlib's delta example saves its
/// attention to a file: delta_attention_file, by default delta_attention_{key}.safetensors in the run's save folder, where
/// the key hashes everything the pre-pass result depends on (<see cref="CacheInputs"/>: the source weights, the
/// architecture, the transform, the training images, the seed, the device kind, the epochs and batches). A resumed run or
/// another run on the same data loads it instead of computing it; the file's metadata holds those inputs and a hash of
/// the attention, checked on load, and a file that does not match or cannot be read is computed again and overwritten,
/// with a warning. Loading changes nothing else: the pre-pass draws from its own seeded generators only.
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

    private static readonly MethodSetting<string> FileSetting = new("delta_attention_file",
        "DELTA: the attention cache: empty for delta_attention_{key}.safetensors in the save folder (the key hashes the source weights, data, seed and pre-pass settings), a file path to share one across save folders, or 'none' to compute it every run.", "",
        v => v is "" or NoCache ? null : string.IsNullOrWhiteSpace(v) ? "is blank"
            : Directory.Exists(v) ? $"is a folder, not a file: {Path.GetFullPath(v)}" : null) { OnlyForItsMethods = true };

    /// <summary>The delta_attention_file value that turns the cache off.</summary>
    private const string NoCache = "none";

    /// <summary>Bumped when the pre-pass or the file's layout changes, so that an older cache is computed again.</summary>
    private const string CacheFormat = "1";

    /// <summary>The original's batch size for the attention pre-pass.</summary>
    private const int AttentionBatchSize = 32;

    /// <summary>Elements of edited maps one ablation pass may hold (several channels' ablations share a pass).</summary>
    private const long AblationBudget = 1L << 24;

    private MethodSetup? setup;
    private float[][]? attention;
    private Tensor[]? attentionOnDevice;
    private bool scaleChecked;

    public string Name => "delta";
    public string Summary => "DELTA: CE plus the attention-weighted distance of the stages' feature maps to the frozen source network's, and L2 on the head.";
    public bool NeedsTeacher => true;
    public IReadOnlyList<MethodSetting> Settings => [AlphaSetting, BetaSetting, AttentionSetting, BatchesSetting, EpochsSetting, FileSetting];

    public double Alpha { get; private set; } = AlphaSetting.Default;
    public double Beta { get; private set; } = BetaSetting.Default;
    public bool UsesAttention { get; private set; } = true;
    public long AttentionBatches { get; private set; } = BatchesSetting.Default;
    public long AttentionEpochs { get; private set; } = EpochsSetting.Default;
    /// <summary>delta_attention_file: "" for the automatic name in the save folder, "none" for no cache, or a path.</summary>
    public string AttentionFile { get; private set; } = FileSetting.Default;

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
        AttentionFile = values.Get(FileSetting);
        if (!UsesAttention && AttentionFile != FileSetting.Default)
            throw new MethodSettingException(FileSetting.Name, $"is used only with {AttentionSetting.Name} on");
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

    /// <summary>Loads the channel attention from its cache, or runs the attention pre-pass and writes the cache, before
    /// the run's first step (on a resumed run, before its first step too).</summary>
    public void BeforeStep(TrainingContext ctx, IOptimizer optimizer, long iteration)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        if (!UsesAttention || attention is not null) return;
        var run = setup ?? throw new InvalidOperationException("delta_attention on needs the training set for its pre-pass: call Prepare (or UseAttention) first");
        var source = SourceOf(ctx);
        var spec = TransformSpec.ForTraining(run.ImageSize);
        // No cache with delta_attention_file none, nor by default without a save folder (a test's bare MethodSetup).
        bool cached = AttentionFile != NoCache && (AttentionFile != "" || run.Save is not null);
        var inputs = cached ? CacheInputs(source, spec, run, ctx.Device) : null;
        var file = inputs is null ? null : AttentionFile != "" ? AttentionFile : Path.Combine(run.Save!, $"delta_attention_{inputs[KeyEntry]}.safetensors");
        var layers = source.StageMapLayers;
        if (file is not null && TryLoad(file, inputs!, source, run.Log) is { } loaded)
        {
            attention = loaded;
            LogRanges(run.Log, layers);
            run.Log.Information("DELTA attention loaded from {File:l}", file);
            return;
        }
        var clock = Stopwatch.StartNew();
        var loader = new BatchLoader(run.Train, spec,
            new LoaderOptions(AttentionBatchSize, 0, SampleRandom.Seed(run.Seed, 0, 0xDE17A), Shuffle: true, DropLast: false), run.Log);
        var (weight, bias) = TrainHead(source, loader, run.Train.Classes.Count, AttentionEpochs, run.Seed, ctx.Device);
        using (weight)
        using (bias)
            attention = ChannelAttention(source, weight, bias, AblationBatches(loader, (int)AttentionEpochs, ctx.Device));
        LogRanges(run.Log, layers);
        string written = file is null ? "not cached" : Write(file, inputs!, layers, attention, run.Log) ? $"written to {file}" : $"not written to {file}";
        run.Log.Information("DELTA attention computed in {Seconds:F1} s ({Epochs} head epochs, {Batches} ablation batches), {Written:l}",
            clock.Elapsed.TotalSeconds, AttentionEpochs, AttentionBatches, written);
    }

    private void LogRanges(Serilog.ILogger log, IReadOnlyList<string> layers)
    {
        for (int j = 0; j < 4; j++)
            log.Information("DELTA attention {Layer:l}: {Channels} channels, weights {Min:G3} to {Max:G3}",
                layers[j], attention![j].Length, attention[j].Min(), attention[j].Max());
    }

    /// <summary>The metadata entry holding the cache key (a hash of the other inputs).</summary>
    private const string KeyEntry = "key";

    /// <summary>The metadata entry holding a hash of the stored attention, so that damaged data is caught too.</summary>
    private const string ChecksumEntry = "attention_sha256";

    /// <summary>
    /// Everything the pre-pass result depends on, as the cache file's metadata stores it, plus <see cref="KeyEntry"/>: the
    /// first 16 hex digits of the SHA-256 of the others. The source weights are hashed as loaded (every tensor of its
    /// state, by name, dtype and shape), so the same weights in another file share the cache; the training images by
    /// their path below the training root, label and file size, in the loader's order (the list itself is too long
    /// for the metadata, so it holds the hash). The device kind is part of it: a CUDA pre-pass rounds differently from a CPU one.
    /// </summary>
    public SortedDictionary<string, string> CacheInputs(ResNet source, TransformSpec spec, MethodSetup run, Device device)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(device);
        static string Floats(float[] v) => string.Join(",", v.Select(x => x.ToString("R", CultureInfo.InvariantCulture)));
        var inputs = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = CacheFormat,
            ["architecture"] = source.Architecture,
            ["source_sha256"] = WeightsHash(source),
            ["transform"] = FormattableString.Invariant(
                $"crop {spec.CropSize}, resize {spec.ResizeSize}, train {spec.Train}, mean {Floats(spec.Normalization.Mean)}, std {Floats(spec.Normalization.Std)}, random resized {spec.RandomResized?.ToString() ?? "none"}"),
            ["train_classes"] = run.Train.Classes.Count.ToString(CultureInfo.InvariantCulture),
            ["train_images"] = run.Train.Samples.Count.ToString(CultureInfo.InvariantCulture),
            ["train_sha256"] = TrainingSetHash(run.Train),
            ["seed"] = run.Seed.ToString(CultureInfo.InvariantCulture),
            ["batch_size"] = AttentionBatchSize.ToString(CultureInfo.InvariantCulture),
            ["epochs"] = AttentionEpochs.ToString(CultureInfo.InvariantCulture),
            ["batches"] = AttentionBatches.ToString(CultureInfo.InvariantCulture),
            ["device"] = device.type.ToString(),
        };
        var text = string.Concat(inputs.Select(p => $"{p.Key}={p.Value}\n"));
        inputs[KeyEntry] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
        return inputs;
    }

    private static string WeightsHash(ResNet source)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var scope = NewDisposeScope();
        foreach (var (name, tensor) in source.state_dict().OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var cpu = tensor.detach().cpu().contiguous();
            hash.AppendData(Encoding.UTF8.GetBytes($"{name} {cpu.dtype} [{string.Join(",", cpu.shape)}]\n"));
            if (cpu.numel() > 0) hash.AppendData(cpu.bytes);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static string TrainingSetHash(ImageFolder train)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var sample in train.Samples)
        {
            long size = File.Exists(sample.Path) ? new FileInfo(sample.Path).Length : -1;
            hash.AppendData(Encoding.UTF8.GetBytes(FormattableString.Invariant($"{Path.GetRelativePath(train.Root, sample.Path)}\t{sample.Label}\t{size}\n")));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static string AttentionHash(IReadOnlyList<float[]> weights)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var w in weights) hash.AppendData(MemoryMarshal.AsBytes(w.AsSpan()));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The attention in <paramref name="file"/> when it exists and matches <paramref name="inputs"/> and the
    /// source's stages; null otherwise, with one warning naming the file when it exists but cannot be used.</summary>
    private static float[][]? TryLoad(string file, SortedDictionary<string, string> inputs, ResNet source, Serilog.ILogger log)
    {
        if (!File.Exists(file)) return null;
        string? problem;
        float[][]? weights = null;
        try
        {
            using var scope = NewDisposeScope();
            var (tensors, metadata) = SafetensorsFile.ReadWithMetadata(file);
            // The key last: an input that differs says more than the key that follows from it.
            problem = inputs.OrderBy(p => p.Key == KeyEntry).Where(p => metadata.GetValueOrDefault(p.Key) != p.Value)
                .Select(p => $"its {p.Key} is {metadata.GetValueOrDefault(p.Key) ?? "missing"}, this run's {p.Value}").FirstOrDefault();
            if (problem is null)
            {
                weights = new float[4][];
                var layers = source.StageMapLayers;
                var channels = source.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape[0]);
                for (int j = 0; j < 4 && problem is null; j++)
                {
                    var name = $"attention.{layers[j]}";
                    if (!tensors.TryGetValue(name, out var t)) problem = $"it has no tensor {name}";
                    else if (t.dtype != ScalarType.Float32 || t.dim() != 1 || t.shape[0] != channels[layers[j] + ".weight"])
                        problem = $"its {name} is {t.dtype} [{string.Join(", ", t.shape)}], not float32 [{channels[layers[j] + ".weight"]}]";
                    else weights[j] = t.data<float>().ToArray();
                }
                if (problem is null && metadata.GetValueOrDefault(ChecksumEntry) != AttentionHash(weights))
                    problem = "its attention does not match its checksum";
            }
        }
        catch (WeightFileException e)
        {
            problem = e.Message;
        }
        if (problem is null) return weights;
        log.Warning("DELTA attention cache {File:l} cannot be used ({Problem:l}): computing the attention again and overwriting it", file, problem);
        return null;
    }

    /// <summary>Writes the cache through the atomic safetensors writer; a failure is a warning (the run goes on with the
    /// attention it computed), and false.</summary>
    private static bool Write(string file, SortedDictionary<string, string> inputs, IReadOnlyList<string> layers, float[][] weights, Serilog.ILogger log)
    {
        using var scope = NewDisposeScope();
        var tensors = Enumerable.Range(0, 4).ToDictionary(j => $"attention.{layers[j]}", j => tensor(weights[j]));
        var metadata = new Dictionary<string, string>(inputs) { [ChecksumEntry] = AttentionHash(weights) };
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
            SafetensorsFile.Write(file, tensors, metadata);
            return true;
        }
        catch (Exception e) when (e is WeightFileException or IOException or UnauthorizedAccessException)
        {
            log.Warning("DELTA attention cache {File:l} cannot be written ({Problem:l}); the run goes on without it", file, e.Message);
            return false;
        }
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
        var main = LossTerms.CrossEntropy(ctx, output.Logits, batch.Labels);
        var delta = FeatureMapDistance(maps, sourceMaps, UsesAttention ? AttentionOn(ctx.Device) : null).Times(Alpha);
        if (!scaleChecked) WarnOfScale(main, delta);
        var terms = new List<(string, Tensor)>
        {
            ("main", main),
            ("head", LossTerms.ClassifierL2(ctx).Times(Beta)),
            ("delta", delta),
        };
        L2SpTerm.AddIfEnabled(ctx, terms);
        return LossTerms.Finish(terms, LossTerms.Accuracy(output.Logits, batch.Labels));
    }

    /// <summary>α·Ω above this many times the CE at the first step draws <see cref="WarnOfScale"/>'s warning.</summary>
    public const double ScaleWarningRatio = 500;

    /// <summary>
    /// Ω is a sum over the batch of pre-BatchNorm maps whose magnitude nothing normalises, and it is not zero at the first
    /// step (the student's BatchNorms use the batch's statistics, the eval-mode source's its running ones), so α·Ω can
    /// start orders of magnitude above the CE and the run diverge (docs/METHODS.md, "DELTA"). Checked once, at the
    /// first step the method computes (one synchronisation), and said in one warning line with the figures.
    /// </summary>
    private void WarnOfScale(Tensor main, Tensor delta)
    {
        scaleChecked = true;
        // Float64 whatever the model's dtype (the parity tests run in double); the tensors belong to Loss's scope.
        double ce = main.detach().to(ScalarType.Float64).item<double>(), term = delta.detach().to(ScalarType.Float64).item<double>();
        if (setup is not null && double.IsFinite(term) && term > ScaleWarningRatio * Math.Max(ce, 1e-6))
            setup.Log.Warning("DELTA's feature-map term starts at {Ratio:F0} times the cross-entropy ({Term:G4} against {Ce:G4}); it grows with the batch and with the pre-BatchNorm maps' magnitude; if the loss diverges, lower {Setting:l} ({Alpha:G})",
                term / Math.Max(ce, 1e-6), term, ce, AlphaSetting.Name, Alpha);
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
            var squared = (student[j] - source[j].detach()).Squared().sum([2L, 3L]); // B x C
            Tensor layer;
            if (attention is null) layer = squared.sum().Times(0.5);
            else
            {
                long channels = squared.shape[1], spatial = student[j].shape[2] * student[j].shape[3];
                if (attention[j].shape[0] != channels) throw new ArgumentException($"stage {j + 1} has {channels} channels but {attention[j].shape[0]} attention weights");
                layer = (squared * attention[j]).sum().Times(0.5 * channels / spatial);
            }
            total = total is null ? layer : total.Plus(layer);
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
            using Scalar start = first, stop = first + k;
            var keep = ones(k, channels, device: map.device)
                .scatter_(1, arange(start, stop, TensorArithmetic.One, dtype: ScalarType.Int64, device: map.device).unsqueeze(1), zeros(k, 1, device: map.device));
            var edited = (map.unsqueeze(0) * keep.view(k, 1, channels, 1, 1)).reshape([k * n, .. map.shape[1..]]);
            var repeated = input.unsqueeze(0).expand([k, .. input.shape]).reshape([k * n, .. input.shape[1..]]);
            var features = source.FeaturesFromStageMap(stage, repeated, edited);
            var perImage = nn.functional.cross_entropy(Head(features, weight, bias), labels.repeat(k), reduction: nn.Reduction.None);
            var rise = perImage.view(k, n).mean([1L]).Minus(intact).to(ScalarType.Float64).cpu().data<double>().ToArray();
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
        using Scalar weightDecay = 1e-4, momentum = 0.9;
        try
        {
            for (int epoch = 0; epoch < epochs; epoch++)
            {
                using Scalar negativeLr = -0.01 * Math.Pow(0.1, epoch / 6.0);
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
                        var step = parameters[i].grad!.add(parameters[i], alpha: weightDecay);
                        velocity[i].mul_(momentum).AddInPlace(step);
                        parameters[i].add_(velocity[i], alpha: negativeLr);
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

using System.Globalization;
using Serilog;
using Smile.Data;
using Smile.Training;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.WeakShot;

/// <summary>
/// Trains the SimNet on clean base pairs (docs/METHODS.md, "SimNet"), epoch-based, as a strategy of the
/// one <see cref="RunEngine"/>.
/// </summary>
public sealed class SimNetTrainer(SimNetOptions options, ILogger log, ITrainingMonitor? monitor = null)
{
    public SimNetSummary Run(CancellationToken cancel = default)
    {
        using var strategy = new SimNetStrategy(options, log, monitor);
        var outcome = new RunEngine(strategy, new EngineOptions(options.Resume), log).Run(cancel);
        return strategy.Finish(outcome);
    }
}

/// <summary>
/// The SimNet's training as the engine runs it: each step draws a batch with <see cref="PairSampler"/> and
/// minimises the 2-way pair CE over all B² ordered pairs (with the adversarial option, L_sim − β·L_D, then a
/// discriminator step on the detached relation features). After each epoch the held-out pair F1
/// (<see cref="SimNetValidation"/>) selects _Best, and _Last (with both optimizers' momentum and the
/// discriminator) is rewritten so that --resume continues exactly: batches, augmentation and random layers
/// depend only on (seed, epoch, step), so a run resumed mid-epoch replays the sampler to where it stopped.
/// </summary>
public sealed class SimNetStrategy : ITrainingStrategy, IDisposable
{
    private const string DiscriminatorOptimizerPrefix = "discriminator_optimizer.momentum.";
    private readonly SimNetOptions options;
    private readonly ILogger log;
    private readonly ITrainingMonitor monitor;
    private readonly Device device;
    private readonly MixedPrecision precision;
    private readonly ImageFolder train;
    private readonly LastCheckpoint? resumed;
    private readonly SimNet net;
    private readonly Normalization normalization;
    private readonly PairDiscriminator? discriminator;
    private readonly MomentumSgd sgd;
    private readonly MomentumSgd? discSgd;
    private readonly BatchLoader loader;
    private readonly BatchLoader? webLoader;
    private readonly SimNetValidation? validation;
    private readonly int iters;
    private readonly int[] labels;
    private readonly int[]? webLabels;
    private readonly TorchSharp.Modules.SummaryWriter board;
    private PairSampler? sampler, webSampler;
    private int samplerEpoch = -1;
    private double lr;
    private PairValidationResult? last;

    private sealed class NullMonitor : ITrainingMonitor;

    public SimNetStrategy(SimNetOptions options, ILogger log, ITrainingMonitor? monitor = null)
    {
        var o = this.options = options;
        this.log = log;
        this.monitor = monitor ?? new NullMonitor();
        device = DeviceSelection.Parse(o.Device);
        precision = MixedPrecision.Create(o.Precision, out var fallback);
        if (fallback is not null) log.Warning("{Reason}", fallback);
        if (precision.SpeedWarning(device) is { } slow) log.Warning("{Slow}", slow);
        torch.random.manual_seed(o.Seed); // the new pair head's initialisation
        Directory.CreateDirectory(o.Save);
        var data = SimNetData.Load(o, log);
        train = data.Train;

        resumed = o.Resume ? LoadLast(train.Classes, device) : null;
        (net, normalization) = resumed is { } r ? (r.Net, new Normalization(r.Info.Mean, r.Info.Std)) : SimNetSetup.Create(o, train.Classes, device, log);
        discriminator = o.Adversarial ? new PairDiscriminator(net.Head.RelationDim).to(device) : null;
        // torch.optim.SGD's plain momentum on every parameter, as the authors' optim.SGD(momentum=0.9, weight_decay=wd).
        sgd = new MomentumSgd(net.named_parameters().Select(p => (p.name, p.parameter, true)), o.Lr, o.Momentum, o.Wd, nesterov: false);
        discSgd = discriminator is null ? null
            : new MomentumSgd(discriminator.named_parameters().Select(p => (p.name, p.parameter, true)), o.DiscriminatorLr, o.Momentum, o.Wd, nesterov: false);

        var spec = TransformSpec.ForTraining(o.ImageSize, normalization);
        // Build-only loaders (the sampler picks the indices); no DropLast: a small class repeats its images.
        loader = new BatchLoader(train, spec, new LoaderOptions(o.BatchSize, o.Workers, o.Seed, DropLast: false, StrictImages: o.StrictImages), log);
        webLoader = data.Web is null ? null
            : new BatchLoader(data.Web, spec, new LoaderOptions(o.BatchSize, o.Workers, SampleRandom.Seed(o.Seed, 0x3EB), DropLast: false, StrictImages: o.StrictImages), log);
        validation = data.Validation is null ? null
            : new SimNetValidation(data.Validation, TransformSpec.ForEvaluation(o.ImageSize, normalization), o.ClassesPerBatch, o.BatchSize, o.Seed, o.Workers, o.StrictImages, log);
        iters = o.ItersPerEpoch ?? Math.Max(1, train.Samples.Count / o.BatchSize);
        labels = train.Samples.Select(s => s.Label).ToArray();
        webLabels = data.Web?.Samples.Select(s => s.Label).ToArray();
        board = torch.utils.tensorboard.SummaryWriter(o.TensorBoardDir);
    }

    public long TotalSteps => (long)options.Epochs * iters;

    public RunProgress Restore()
    {
        var path = options.LastPath;
        var saved = resumed ?? throw new InvalidOperationException("Restore on a run that does not resume");
        try
        {
            sgd.LoadMomentumBuffers(Checkpoint.WithPrefix(saved.Extra, Checkpoint.OptimizerPrefix));
            if (discriminator is not null)
            {
                var state = Checkpoint.WithPrefix(saved.Extra, PairDiscriminator.Prefix);
                if (state.Count == 0) throw new WeightFileException(path, "`resume`: the checkpoint holds no discriminator (it was trained with `adversarial_weight` 0)");
                StateDictLoader.Load(discriminator, state, path);
                discSgd!.LoadMomentumBuffers(Checkpoint.WithPrefix(saved.Extra, DiscriminatorOptimizerPrefix));
            }
            var progress = ProgressOf(saved.Info);
            precision.RestoreScale(progress);
            log.Information("Resuming {Run} after epoch {Epoch} and {Step} step(s) of the next (best F1 {Best:F4} at epoch {BestEpoch})",
                options.Name, progress.StepsDone / iters, progress.StepsDone % iters, progress.BestMetric, BestEpoch(progress));
            return progress;
        }
        catch (FormatException e)
        {
            throw new WeightFileException(path, $"`resume`: damaged run state ({e.Message})", e);
        }
        finally
        {
            foreach (var t in saved.Extra.Values) t.Dispose();
        }
    }

    /// <summary>The run_state of a _Last, or, for one written before it existed, the same facts from its epoch,
    /// best F1 and argument entries.</summary>
    private RunProgress ProgressOf(SimNetInfo info)
    {
        if (RunProgress.FromJson(info.RunState) is { } progress) return progress;
        var c = CultureInfo.InvariantCulture;
        var a = info.Arguments;
        int step = a.TryGetValue("step_in_epoch", out var s) ? int.Parse(s, c) : 0;
        int bestEpoch = a.TryGetValue("best_epoch", out var b) ? int.Parse(b, c) : -1;
        return new RunProgress((long)info.Epoch * iters + step, bestEpoch >= 0 ? info.BestF1 : double.NegativeInfinity,
            bestEpoch >= 0 ? (long)bestEpoch * iters - 1 : -1, 0, info.BestF1);
    }

    /// <summary>The 1-based epoch of the best SimNet, or -1.</summary>
    private int BestEpoch(RunProgress p) => p.HasBest ? (int)(p.BestStep / iters) + 1 : -1;

    public void Begin(RunProgress progress)
    {
        var o = options;
        log.Information("SimNet {Run}: {Arch} backbone, relation {Relation}, {Classes} base classes, {Images} training images, {Cpb} classes x {Batch} images per batch, {Iters} steps per epoch, epochs {Start}..{Epochs}, β {Beta}, device {Device}, precision {Precision}",
            o.Name, net.Backbone.Architecture, net.Head.RelationDim, train.Classes.Count, train.Samples.Count, o.ClassesPerBatch, o.BatchSize, iters, progress.StepsDone / iters + 1, o.Epochs, o.AdversarialWeight, device, precision.Name);
        if (validation is not null)
            log.Information("Validation pairs: {Batches} fixed batch(es) of the {Images} held-out images, pairs of two different images, similar when S > 0.5", validation.Batches, validation.Images);
        net.train();
    }

    /// <summary>At an epoch's first step (or the first step of a resumed run): the epoch's rate and its samplers,
    /// seeded by (seed, epoch); a resumed epoch replays its first draws.</summary>
    private void EnterEpoch(int epoch, int step)
    {
        var o = options;
        lr = o.LearningRateAt(epoch);
        sgd.LearningRate = lr;
        if (discSgd is not null) discSgd.LearningRate = o.DiscriminatorLr * (lr / o.Lr);
        sampler = new PairSampler(labels, o.ClassesPerBatch, o.BatchSize, SampleRandom.Seed(o.Seed, epoch, 0x5A3B));
        webSampler = webLabels is null ? null : new PairSampler(webLabels, o.ClassesPerBatch, o.BatchSize, SampleRandom.Seed(o.Seed, epoch, 0x3EB));
        for (int skip = 0; skip < step; skip++) { sampler.Next(); webSampler?.Next(); }
        samplerEpoch = epoch;
        log.Information("Epoch {Epoch}/{Epochs}: lr {Lr:G4}", epoch + 1, o.Epochs, lr);
    }

    public (StepResult Result, int Images) Step(long global, CancellationToken cancel)
    {
        int epoch = (int)(global / iters), step = (int)(global % iters);
        if (epoch != samplerEpoch) EnterEpoch(epoch, step);
        torch.random.manual_seed(SampleRandom.Seed(options.Seed, global, 0x0D0)); // random layers (the shallow CNN's dropout)
        // The step number keys the augmentation, so an image drawn twice in an epoch is cropped anew.
        using var batch = loader.Build(sampler!.Next(), (int)global, cancel);
        using var web = webLoader?.Build(webSampler!.Next(), (int)global, cancel);
        var result = TrainStep(batch, web);
        if (result.UpdateSkipped)
            log.Warning("Epoch {Epoch}, step {Step}: the fp16 gradients overflowed, so the update was skipped and the loss scale lowered to {Scale}",
                epoch + 1, step, precision.Scaler!.Scale);
        return (result, batch.Count + (web?.Count ?? 0));
    }

    /// <summary>
    /// One SimNet step (and, with a web batch, one discriminator step). Base and web images go through the
    /// backbone and the head together, as the authors' code does, so BatchNorm sees both; pairs are formed
    /// within each half only. In mixed precision the forwards run under autocast and the losses in fp32; fp16 scales
    /// the loss and skips an update whose gradients overflowed (<see cref="LossScaler"/>), as the training step does.
    /// The discriminator's own step stays in fp32 (a small MLP on the detached relation features).
    /// Every tensor of the step belongs to its dispose scope.
    /// </summary>
    private StepResult TrainStep(Batch batch, Batch? web)
    {
        using var scope = NewDisposeScope();
        var disc = discriminator;
        var images = batch.Images.to(device);
        var labels = batch.Labels.to(device);
        long b = batch.Count, baseRows = b * b;
        sgd.ZeroGrad();
        Tensor pairLogits, relation;
        Tensor? domainOutput = null;
        using (precision.Enter(device))
        {
            var features = net.PooledFeatures(web is null ? images : cat([images, web.Images.to(device)]));
            var pairs = web is null ? PairHead.Pairs(features)
                : cat([PairHead.Pairs(features.narrow(0, 0, b)), PairHead.Pairs(features.narrow(0, b, web.Count))]);
            var head = net.Head.ForwardPairs(pairs);
            (pairLogits, relation) = (head.Logits, head.Relation);
            if (disc is not null) domainOutput = disc.call(relation);
        }
        var baseLogits = pairLogits.narrow(0, 0, baseRows).to(ScalarType.Float32);
        var sim = PairHead.PairLoss(baseLogits, labels);
        var terms = new Dictionary<string, double> { ["sim"] = sim.item<float>() };
        var total = sim;
        if (domainOutput is not null)
        {
            var domain = PairDiscriminator.DomainLoss(domainOutput.to(ScalarType.Float32), baseRows);
            terms["disc"] = domain.item<float>();
            total = sim - domain.Times(options.AdversarialWeight);
        }
        double loss = total.item<float>();
        var accuracy = baseLogits.argmax(1).eq(PairHead.PairLabels(labels)).to(ScalarType.Float32).mean().item<float>();
        if (!double.IsFinite(loss)) return new StepResult(loss, terms, accuracy);
        var scaler = precision.Scaler;
        (scaler is null ? total : total.Times(scaler.Scale)).backward();
        if (scaler is not null && !scaler.Unscale(net.parameters()))
            return new StepResult(loss, terms, accuracy) { UpdateSkipped = true };
        sgd.Step();
        if (disc is not null)
        {
            // The discriminator learns on features detached from the SimNet, with its own optimizer.
            discSgd!.ZeroGrad();
            var domainLogits = disc.call(relation.detach().to(ScalarType.Float32));
            PairDiscriminator.DomainLoss(domainLogits, baseRows).backward();
            discSgd.Step();
            using Scalar rows = domainLogits.shape[0], firstTarget = baseRows;
            var domainLabels = arange(TensorArithmetic.Zero, rows, TensorArithmetic.One, device: device).ge(firstTarget).to(ScalarType.Int64);
            terms["disc_acc"] = domainLogits.argmax(1).eq(domainLabels).to(ScalarType.Float32).mean().item<float>();
        }
        return new StepResult(loss, terms, accuracy);
    }

    public void Report(long global, StepResult s, double rate, TimeSpan remaining)
    {
        var o = options;
        board.add_scalar("train_loss", (float)s.Loss, (int)global);
        foreach (var (name, value) in s.Terms) board.add_scalar($"train_{name}", (float)value, (int)global);
        board.add_scalar("train_pair_acc", (float)s.Accuracy, (int)global);
        board.add_scalar("lr", (float)lr, (int)global);
        monitor.OnStep(new StepReport(global, TotalSteps, "simnet", s.Loss, s.Terms, s.Accuracy, lr, rate, remaining));
        if (LogsAfter(global))
            log.Information("Epoch[{Epoch:D2}/{Epochs:D2}] Step[{Step:D4}/{Iters:D4}] simnet loss {Loss:F4} ({Terms}) pair acc {Acc:F3} lr {Lr:G4} {Rate:F1} images/s, RSS {Rss} MiB",
                global / iters + 1, o.Epochs, global % iters, iters, s.Loss, s.DescribeTerms(), s.Accuracy, lr, rate, RunFiles.ResidentMiB());
    }

    public bool LogsAfter(long global) => global % iters % options.PrintFrequency == 0;

    public bool EvaluatesAfter(long global) => global % iters == iters - 1;

    public Evaluated? Evaluate(long global, CancellationToken cancel)
    {
        if (validation is null) return null;
        var o = options;
        int epoch = (int)(global / iters);
        last = validation.Evaluate(net, device, new Progress<int>(n => monitor.OnEvalProgress(n, validation.Images)), cancel, precision);
        log.Information("----- Epoch[{Epoch:D2}/{Epochs:D2}] validation pairs: F1 {F1:F4}, precision {Precision:F4}, recall {Recall:F4}, pair loss {Loss:F4} ({Pairs} pairs, {Positives} similar), time: {Time:F2}",
            epoch + 1, o.Epochs, last.F1, last.Counts.Precision, last.Counts.Recall, last.Loss, last.Counts.Pairs, last.Counts.Positives, last.Seconds);
        board.add_scalar("val_f1", (float)last.F1, epoch + 1);
        board.add_scalar("val_precision", (float)last.Counts.Precision, epoch + 1);
        board.add_scalar("val_recall", (float)last.Counts.Recall, epoch + 1);
        board.add_scalar("val_loss", (float)last.Loss, epoch + 1);
        return new Evaluated(last.F1, last.F1);
    }

    public string SaveBest(RunProgress progress)
    {
        SimNetCheckpoint.Save(options.BestPath, net, Info(progress));
        log.Information("----- Save SimNet: {Path}", options.BestPath);
        return options.BestPath;
    }

    public string SaveLast(RunProgress progress)
    {
        var extra = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, buffer) in sgd.MomentumBuffers) extra[Checkpoint.OptimizerPrefix + name] = buffer;
        if (discriminator is not null)
        {
            foreach (var (name, tensor) in discriminator.state_dict()) extra[PairDiscriminator.Prefix + name] = tensor;
            foreach (var (name, buffer) in discSgd!.MomentumBuffers) extra[DiscriminatorOptimizerPrefix + name] = buffer;
        }
        SimNetCheckpoint.Save(options.LastPath, net, Info(progress) with { RunState = precision.WithScale(progress).ToJson() }, extra);
        return options.LastPath;
    }

    /// <summary>The checkpoint's info: completed epochs and the position in the next (step_in_epoch), the selection.</summary>
    private SimNetInfo Info(RunProgress p)
    {
        var c = CultureInfo.InvariantCulture;
        var arguments = new Dictionary<string, string>(options.Arguments())
        {
            ["best_epoch"] = BestEpoch(p).ToString(c), ["step_in_epoch"] = (p.StepsDone % iters).ToString(c),
        };
        return new SimNetInfo(net.Backbone.Architecture, train.Classes, net.Head.RelationDim, options.ImageSize, normalization.Mean, normalization.Std,
            (int)(p.StepsDone / iters), p.HasBest ? p.BestMetric : 0, arguments);
    }

    public string Diverged(long global, StepResult s, RunProgress progress) =>
        $"the loss became {s.Loss} at epoch {global / iters + 1}, step {global % iters} ({s.DescribeTerms("G9")}); " +
        $"{(progress.HasBest ? $"the best SimNet ({options.BestPath}) is kept; " : "")}try a lower `lr`";

    public SimNetSummary Finish(EngineOutcome outcome)
    {
        var p = outcome.Progress;
        int bad = loader.BadImageCount + (webLoader?.BadImageCount ?? 0);
        if (bad > 0) log.Warning("{Count} unreadable image(s) were replaced by others of their class", bad);
        var summary = new SimNetSummary(options.Name, net.Backbone.Architecture, (int)Math.Min(p.StepsDone / iters, options.Epochs), (int)(outcome.StartStep / iters),
            p.HasBest ? p.BestMetric : double.NaN, BestEpoch(p), last, options.AdversarialWeight, outcome.Seconds, outcome.ImagesPerSecond, bad,
            p.HasBest ? options.BestPath : null, options.LastPath, outcome.Interrupted);
        RunFiles.WriteSummary(options.SummaryPath, summary);
        return summary;
    }

    private sealed record LastCheckpoint(SimNet Net, SimNetInfo Info, Dictionary<string, Tensor> Extra);

    /// <summary>Reads _Last and checks it belongs to this run (same base classes, architecture, relation width,
    /// image size); the caller owns the network and the extra tensors.</summary>
    private LastCheckpoint LoadLast(IReadOnlyList<string> baseClasses, Device device)
    {
        var path = options.LastPath;
        if (!File.Exists(path)) throw new WeightFileException(path, "`resume`: no _Last SimNet to continue from");
        var (net, info, extra) = SimNetCheckpoint.Load(path, device);
        string? problem = !info.BaseClasses.SequenceEqual(baseClasses, StringComparer.Ordinal)
                ? $"it was trained on other base classes ({SimNetSetup.Describe(info.BaseClasses)}) than `base_dir` ({SimNetSetup.Describe(baseClasses)})"
            : options.ModelArch is { } arch && Models.ModelFactory.CanonicalName(arch) != info.Architecture ? $"it is a {info.Architecture}, not a {arch}"
            : options.RelationDim is { } d && d != info.RelationDim ? $"its relation width is {info.RelationDim}, not {d}"
            : info.ImageSize != options.ImageSize ? $"it was trained at image size {info.ImageSize}, not {options.ImageSize}"
            : null;
        if (problem is null) return new LastCheckpoint(net, info, extra);
        net.Dispose();
        foreach (var t in extra.Values) t.Dispose();
        throw new WeightFileException(path, $"`resume`: {problem}");
    }

    public void Dispose()
    {
        discSgd?.Dispose();
        sgd.Dispose();
        discriminator?.Dispose();
        net.Dispose();
    }
}

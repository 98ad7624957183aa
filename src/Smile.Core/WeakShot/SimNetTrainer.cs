using System.Diagnostics;
using System.Globalization;
using Serilog;
using Smile.Data;
using Smile.Training;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.WeakShot;

/// <summary>
/// Trains the SimNet on clean base pairs (METHODS.md section 2, step 1), epoch-based: each step draws a batch
/// with <see cref="PairSampler"/> and minimises the 2-way pair CE over all B² ordered pairs (with the adversarial
/// option, L_sim − β·L_D, then a discriminator step on the detached relation features). After each epoch the
/// held-out pair F1 (<see cref="SimNetValidation"/>) picks _Best, and _Last (with both optimizers' momentum and
/// the discriminator) is rewritten so that --resume continues exactly: batches, augmentation and random layers
/// depend only on (seed, epoch, step), so a run resumed mid-epoch replays the sampler to where it stopped.
/// </summary>
public sealed class SimNetTrainer(SimNetOptions options, ILogger log, ITrainingMonitor? monitor = null)
{
    private const string DiscriminatorOptimizerPrefix = "discriminator_optimizer.momentum.";
    private readonly ITrainingMonitor monitor = monitor ?? new NullMonitor();

    private sealed class NullMonitor : ITrainingMonitor;

    /// <summary>Where a run continues from: epochs completed, steps done in the next one, the selection so far.</summary>
    private sealed record RunState(int Epoch, int Step, double BestF1, int BestEpoch);

    public SimNetSummary Run(CancellationToken cancel = default)
    {
        var o = options;
        var device = DeviceSelection.Parse(o.Device);
        torch.random.manual_seed(o.Seed); // the new pair head's initialisation
        Directory.CreateDirectory(o.Save);
        var data = SimNetData.Load(o, log);
        var train = data.Train;

        var resumed = o.Resume ? LoadLast(train.Classes, device) : null;
        var (net, normalization) = resumed is { } r ? (r.Net, new Normalization(r.Info.Mean, r.Info.Std)) : SimNetSetup.Create(o, train.Classes, device, log);
        using var owned = net;
        using var discriminator = o.Adversarial ? new PairDiscriminator(net.Head.RelationDim).to(device) : null;
        // torch.optim.SGD's plain momentum on every parameter, as the authors' optim.SGD(momentum=0.9, weight_decay=wd).
        using var sgd = new MomentumSgd(net.named_parameters().Select(p => (p.name, p.parameter, true)), o.Lr, o.Momentum, o.Wd, nesterov: false);
        using var discSgd = discriminator is null ? null
            : new MomentumSgd(discriminator.named_parameters().Select(p => (p.name, p.parameter, true)), o.DiscriminatorLr, o.Momentum, o.Wd, nesterov: false);
        var progress = new RunState(0, 0, 0, -1);
        if (resumed is not null) progress = Restore(resumed, sgd, discriminator, discSgd);

        var spec = TransformSpec.ForTraining(o.ImageSize, normalization);
        // Build-only loaders (the sampler picks the indices); no DropLast: a small class repeats its images.
        var loader = new BatchLoader(train, spec, new LoaderOptions(o.BatchSize, o.Workers, o.Seed, DropLast: false, StrictImages: o.StrictImages), log);
        var webLoader = data.Web is null ? null
            : new BatchLoader(data.Web, spec, new LoaderOptions(o.BatchSize, o.Workers, SampleRandom.Seed(o.Seed, 0x3EB), DropLast: false, StrictImages: o.StrictImages), log);
        var validation = data.Validation is null ? null
            : new SimNetValidation(data.Validation, TransformSpec.ForEvaluation(o.ImageSize, normalization), o.ClassesPerBatch, o.BatchSize, o.Seed, o.Workers, o.StrictImages, log);
        int iters = o.ItersPerEpoch ?? Math.Max(1, train.Samples.Count / o.BatchSize);
        long totalSteps = (long)o.Epochs * iters;
        var labels = train.Samples.Select(s => s.Label).ToArray();
        var webLabels = data.Web?.Samples.Select(s => s.Label).ToArray();

        log.Information("SimNet {Run}: {Arch} backbone, relation {Relation}, {Classes} base classes, {Images} training images, {Cpb} classes x {Batch} images per batch, {Iters} steps per epoch, epochs {Start}..{Epochs}, β {Beta}, device {Device}",
            o.Name, net.Backbone.Architecture, net.Head.RelationDim, train.Classes.Count, train.Samples.Count, o.ClassesPerBatch, o.BatchSize, iters, progress.Epoch + 1, o.Epochs, o.AdversarialWeight, device);
        if (validation is not null)
            log.Information("Validation pairs: {Batches} fixed batch(es) of the {Images} held-out images, pairs of two different images, similar when S > 0.5", validation.Batches, validation.Images);
        var board = torch.utils.tensorboard.SummaryWriter(o.TensorBoardDir);

        var clock = Stopwatch.StartNew();
        var window = Stopwatch.StartNew();
        long imagesSeen = 0, windowImages = 0;
        PairValidationResult? last = null;
        int epoch = progress.Epoch, step = progress.Step;
        double bestF1 = progress.BestF1;
        int bestEpoch = progress.BestEpoch;
        bool interrupted = false, advanced = false;
        net.train();
        try
        {
            for (; epoch < o.Epochs; epoch++, step = 0)
            {
                double lr = o.LearningRateAt(epoch);
                sgd.LearningRate = lr;
                if (discSgd is not null) discSgd.LearningRate = o.DiscriminatorLr * (lr / o.Lr);
                // One sampler per epoch, seeded by (seed, epoch): a resumed epoch replays its first `step` draws.
                var sampler = new PairSampler(labels, o.ClassesPerBatch, o.BatchSize, SampleRandom.Seed(o.Seed, epoch, 0x5A3B));
                var webSampler = webLabels is null ? null : new PairSampler(webLabels, o.ClassesPerBatch, o.BatchSize, SampleRandom.Seed(o.Seed, epoch, 0x3EB));
                for (int skip = 0; skip < step; skip++) { sampler.Next(); webSampler?.Next(); }
                log.Information("Epoch {Epoch}/{Epochs}: lr {Lr:G4}", epoch + 1, o.Epochs, lr);

                for (; step < iters; step++)
                {
                    if (cancel.IsCancellationRequested) { interrupted = true; break; }
                    long global = (long)epoch * iters + step;
                    torch.random.manual_seed(SampleRandom.Seed(o.Seed, global, 0x0D0)); // random layers (the shallow CNN's dropout)
                    // The step number keys the augmentation, so an image drawn twice in an epoch is cropped anew.
                    using var batch = loader.Build(sampler.Next(), (int)global, cancel);
                    using var web = webLoader?.Build(webSampler!.Next(), (int)global, cancel);
                    var s = TrainStep(net, discriminator, sgd, discSgd, batch, web, device);
                    Smile.Native.NativeGarbage.Release();
                    if (!double.IsFinite(s.Loss))
                        throw new DivergedException($"the loss became {s.Loss} at epoch {epoch + 1}, step {step} ({string.Join(", ", s.Terms.Select(t => $"{t.Key} {t.Value}"))}); " +
                            $"{(bestEpoch >= 0 ? $"the best SimNet ({o.BestPath}) is kept; " : "")}try a lower --lr");
                    advanced = true;
                    int count = batch.Count + (web?.Count ?? 0);
                    imagesSeen += count;
                    windowImages += count;
                    Report(global, totalSteps, epoch, step, iters, s, lr, board, window, windowImages);
                    if (step % o.PrintFrequency == 0) { window.Restart(); windowImages = 0; }
                }
                if (interrupted) break;

                bool isBest = false;
                if (validation is not null)
                {
                    last = validation.Evaluate(net, device, new Progress<int>(n => monitor.OnEvalProgress(n, validation.Images)), cancel);
                    log.Information("----- Epoch[{Epoch:D2}/{Epochs:D2}] validation pairs: F1 {F1:F4}, precision {Precision:F4}, recall {Recall:F4}, pair loss {Loss:F4} ({Pairs} pairs, {Positives} similar), time: {Time:F2}",
                        epoch + 1, o.Epochs, last.F1, last.Counts.Precision, last.Counts.Recall, last.Loss, last.Counts.Pairs, last.Counts.Positives, last.Seconds);
                    board.add_scalar("val_f1", (float)last.F1, epoch + 1);
                    board.add_scalar("val_precision", (float)last.Counts.Precision, epoch + 1);
                    board.add_scalar("val_recall", (float)last.Counts.Recall, epoch + 1);
                    board.add_scalar("val_loss", (float)last.Loss, epoch + 1);
                    if (last.F1 > bestF1 || bestEpoch < 0)
                    {
                        (isBest, bestF1, bestEpoch) = (true, last.F1, epoch + 1);
                        SimNetCheckpoint.Save(o.BestPath, net, Info(net, train, normalization, new RunState(epoch + 1, 0, bestF1, bestEpoch)));
                        log.Information("----- Save SimNet: {Path}", o.BestPath);
                    }
                }
                SaveLast(net, sgd, discriminator, discSgd, train, normalization, new RunState(epoch + 1, 0, bestF1, bestEpoch));
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            interrupted = true;
        }
        if (interrupted && advanced)
        {
            SaveLast(net, sgd, discriminator, discSgd, train, normalization, new RunState(epoch, step, bestF1, bestEpoch));
            log.Warning("Stopped in epoch {Epoch} of {Epochs} after {Step} of {Iters} steps: {Path} written; continue with --resume", epoch + 1, o.Epochs, step, iters, o.LastPath);
        }
        if (loader.BadImageCount + (webLoader?.BadImageCount ?? 0) > 0)
            log.Warning("{Count} unreadable image(s) were replaced by others of their class", loader.BadImageCount + (webLoader?.BadImageCount ?? 0));

        double seconds = clock.Elapsed.TotalSeconds;
        var summary = new SimNetSummary(o.Name, net.Backbone.Architecture, Math.Min(epoch, o.Epochs), progress.Epoch, bestEpoch >= 0 ? bestF1 : double.NaN, bestEpoch,
            last, o.AdversarialWeight, seconds, imagesSeen / Math.Max(seconds, 1e-9), loader.BadImageCount + (webLoader?.BadImageCount ?? 0),
            bestEpoch >= 0 ? o.BestPath : null, o.LastPath, interrupted);
        RunFiles.WriteSummary(o.SummaryPath, summary);
        return summary;
    }

    /// <summary>What one step measured: the total loss, its terms, and the pair (and domain) accuracy.</summary>
    private sealed record StepResult(double Loss, Dictionary<string, double> Terms, double PairAccuracy);

    /// <summary>
    /// One SimNet step (and, with a web batch, one discriminator step). Base and web images go through the
    /// backbone and the head together, as the authors' code does, so BatchNorm sees both; pairs are formed
    /// within each half only. Every tensor of the step belongs to its dispose scope.
    /// </summary>
    private StepResult TrainStep(SimNet net, PairDiscriminator? disc, MomentumSgd sgd, MomentumSgd? discSgd, Batch batch, Batch? web, Device device)
    {
        using var scope = NewDisposeScope();
        var images = batch.Images.to(device);
        var labels = batch.Labels.to(device);
        long b = batch.Count, baseRows = b * b;
        sgd.ZeroGrad();
        var features = net.PooledFeatures(web is null ? images : cat([images, web.Images.to(device)]));
        var pairs = web is null ? PairHead.Pairs(features)
            : cat([PairHead.Pairs(features.narrow(0, 0, b)), PairHead.Pairs(features.narrow(0, b, web.Count))]);
        var head = net.Head.ForwardPairs(pairs);
        var baseLogits = head.Logits.narrow(0, 0, baseRows);
        var sim = PairHead.PairLoss(baseLogits, labels);
        var terms = new Dictionary<string, double> { ["sim"] = sim.item<float>() };
        var total = sim;
        if (disc is not null)
        {
            var domain = PairDiscriminator.DomainLoss(disc.call(head.Relation), baseRows);
            terms["disc"] = domain.item<float>();
            total = sim - options.AdversarialWeight * domain;
        }
        double loss = total.item<float>();
        var accuracy = baseLogits.argmax(1).eq(PairHead.PairLabels(labels)).to(ScalarType.Float32).mean().item<float>();
        if (!double.IsFinite(loss)) return new StepResult(loss, terms, accuracy);
        total.backward();
        sgd.Step();
        if (disc is not null)
        {
            // The discriminator learns on features detached from the SimNet, with its own optimizer.
            discSgd!.ZeroGrad();
            var domainLogits = disc.call(head.Relation.detach());
            PairDiscriminator.DomainLoss(domainLogits, baseRows).backward();
            discSgd.Step();
            var domainLabels = arange(domainLogits.shape[0], device: device).ge(baseRows).to(ScalarType.Int64);
            terms["disc_acc"] = domainLogits.argmax(1).eq(domainLabels).to(ScalarType.Float32).mean().item<float>();
        }
        return new StepResult(loss, terms, accuracy);
    }

    private void Report(long global, long totalSteps, int epoch, int step, int iters, StepResult s, double lr,
        TorchSharp.Modules.SummaryWriter board, Stopwatch window, long windowImages)
    {
        var o = options;
        board.add_scalar("train_loss", (float)s.Loss, (int)global);
        foreach (var (name, value) in s.Terms) board.add_scalar($"train_{name}", (float)value, (int)global);
        board.add_scalar("train_pair_acc", (float)s.PairAccuracy, (int)global);
        board.add_scalar("lr", (float)lr, (int)global);
        double rate = windowImages / Math.Max(window.Elapsed.TotalSeconds, 1e-9);
        var remaining = TimeSpan.FromSeconds((totalSteps - global - 1) * o.BatchSize * (o.Adversarial ? 2 : 1) / Math.Max(rate, 1e-9));
        monitor.OnStep(new StepReport(global, totalSteps, "simnet", s.Loss, s.Terms, s.PairAccuracy, lr, rate, remaining));
        if (step % o.PrintFrequency == 0)
            log.Information("Epoch[{Epoch:D2}/{Epochs:D2}] Step[{Step:D4}/{Iters:D4}] simnet loss {Loss:F4} ({Terms}) pair acc {Acc:F3} lr {Lr:G4} {Rate:F1} images/s, RSS {Rss} MiB",
                epoch + 1, o.Epochs, step, iters, s.Loss, string.Join(", ", s.Terms.Select(t => $"{t.Key} {t.Value:F4}")), s.PairAccuracy, lr, rate, RunFiles.ResidentMiB());
    }

    private SimNetInfo Info(SimNet net, ImageFolder train, Normalization n, RunState state)
    {
        var c = CultureInfo.InvariantCulture;
        // The selection state and the position in the epoch, so that --resume continues exactly.
        var arguments = new Dictionary<string, string>(options.Arguments())
        {
            ["best_epoch"] = state.BestEpoch.ToString(c), ["step_in_epoch"] = state.Step.ToString(c),
        };
        return new SimNetInfo(net.Backbone.Architecture, train.Classes, net.Head.RelationDim, options.ImageSize, n.Mean, n.Std, state.Epoch, state.BestF1, arguments);
    }

    private void SaveLast(SimNet net, MomentumSgd sgd, PairDiscriminator? disc, MomentumSgd? discSgd, ImageFolder train, Normalization n, RunState state)
    {
        var extra = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, buffer) in sgd.MomentumBuffers) extra[Checkpoint.OptimizerPrefix + name] = buffer;
        if (disc is not null)
        {
            foreach (var (name, tensor) in disc.state_dict()) extra[PairDiscriminator.Prefix + name] = tensor;
            foreach (var (name, buffer) in discSgd!.MomentumBuffers) extra[DiscriminatorOptimizerPrefix + name] = buffer;
        }
        SimNetCheckpoint.Save(options.LastPath, net, Info(net, train, n, state), extra);
    }

    private sealed record LastCheckpoint(SimNet Net, SimNetInfo Info, Dictionary<string, Tensor> Extra);

    /// <summary>Reads _Last and checks it belongs to this run (same base classes, architecture, relation width,
    /// image size); the caller owns the network and the extra tensors.</summary>
    private LastCheckpoint LoadLast(IReadOnlyList<string> baseClasses, Device device)
    {
        var path = options.LastPath;
        if (!File.Exists(path)) throw new WeightFileException(path, "--resume: no _Last SimNet to continue from");
        var (net, info, extra) = SimNetCheckpoint.Load(path, device);
        string? problem = !info.BaseClasses.SequenceEqual(baseClasses, StringComparer.Ordinal)
                ? $"it was trained on other base classes ({SimNetSetup.Describe(info.BaseClasses)}) than --base_dir ({SimNetSetup.Describe(baseClasses)})"
            : options.ModelArch is { } arch && Models.ModelFactory.CanonicalName(arch) != info.Architecture ? $"it is a {info.Architecture}, not a {arch}"
            : options.RelationDim is { } d && d != info.RelationDim ? $"its relation width is {info.RelationDim}, not {d}"
            : info.ImageSize != options.ImageSize ? $"it was trained at image size {info.ImageSize}, not {options.ImageSize}"
            : null;
        if (problem is null) return new LastCheckpoint(net, info, extra);
        net.Dispose();
        foreach (var t in extra.Values) t.Dispose();
        throw new WeightFileException(path, $"--resume: {problem}");
    }

    /// <summary>Puts the optimizers' momentum and the discriminator back; returns where to continue.</summary>
    private RunState Restore(LastCheckpoint last, MomentumSgd sgd, PairDiscriminator? disc, MomentumSgd? discSgd)
    {
        var path = options.LastPath;
        try
        {
            sgd.LoadMomentumBuffers(Checkpoint.WithPrefix(last.Extra, Checkpoint.OptimizerPrefix));
            if (disc is not null)
            {
                var state = Checkpoint.WithPrefix(last.Extra, PairDiscriminator.Prefix);
                if (state.Count == 0) throw new WeightFileException(path, "--resume: the checkpoint holds no discriminator (it was trained with --adversarial_weight 0)");
                StateDictLoader.Load(disc, state, path);
                discSgd!.LoadMomentumBuffers(Checkpoint.WithPrefix(last.Extra, DiscriminatorOptimizerPrefix));
            }
            var c = CultureInfo.InvariantCulture;
            var a = last.Info.Arguments;
            var progress = new RunState(last.Info.Epoch, a.TryGetValue("step_in_epoch", out var s) ? int.Parse(s, c) : 0, last.Info.BestF1,
                a.TryGetValue("best_epoch", out var b) ? int.Parse(b, c) : -1);
            log.Information("Resuming {Run} after epoch {Epoch} and {Step} step(s) of the next (best F1 {Best:F4} at epoch {BestEpoch})",
                options.Name, progress.Epoch, progress.Step, progress.BestF1, progress.BestEpoch);
            return progress;
        }
        finally
        {
            foreach (var t in last.Extra.Values) t.Dispose();
        }
    }
}

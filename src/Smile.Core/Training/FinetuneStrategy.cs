using Serilog;
using Smile.Data;
using Smile.Evaluation;
using Smile.Models;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// Fine-tuning as the engine runs it (the reference's finetune.py loop): one method step per batch, the
/// learning-rate schedule, evaluation every eval_frequency iterations and after the last, selection by top-1 or
/// NLL. _Best holds the student and what evaluation needs; _Last also holds the optimizer state and the mean
/// teacher, from which --resume continues exactly: batches, augmentation, mixup and random layers depend only on
/// (seed, iteration).
/// </summary>
public sealed class FinetuneStrategy : ITrainingStrategy, IDisposable
{
    private readonly FinetuneOptions o;
    private readonly IRegularizer method;
    private readonly ILogger log;
    private readonly ITrainingMonitor monitor;
    private readonly Device device;
    private readonly bool channelsLast;
    private readonly ImageFolder train;
    private readonly ImageFolder? eval;
    private readonly BatchLoader loader;
    private readonly BatchLoader? evalLoader;
    private readonly RunModels models;
    private readonly TrainingContext context;
    private readonly IOptimizer optimizer;
    private readonly FrozenParts frozen;
    private readonly StepGraphs? graphs;
    private readonly Func<IStepGraph>? graphBackend;
    private readonly TorchSharp.Modules.SummaryWriter board;
    private IEnumerator<Batch>? batches;
    private EvalResult? lastEval;
    private string current;

    private sealed class NullMonitor : ITrainingMonitor;

    public FinetuneStrategy(FinetuneOptions options, IRegularizer method, ILogger log, ITrainingMonitor? monitor = null)
    {
        o = options;
        this.method = method;
        this.log = log;
        this.monitor = monitor ?? new NullMonitor();
        current = method.Name;
        device = DeviceSelection.Parse(o.Device);
        torch.random.manual_seed(o.Seed);
        Directory.CreateDirectory(o.Save);

        var folder = o.TrainData.ForTraining();
        foreach (var warning in folder.Warnings) log.Warning("{Warning}", warning);
        (train, eval) = ValidationSplit.Choose(folder, o.ValSplit, o.EvalData, o.Seed, log);
        var spec = o.TrainTransform();
        // On CUDA the loader's thread pins each batch, so that the training thread only queues its copy (Data/DevicePrefetcher.cs).
        loader = new BatchLoader(train, spec, new LoaderOptions(o.BatchSize, o.Workers, o.Seed, Shuffle: true, DropLast: true, StrictImages: o.StrictImages)
            { BalancedClasses = o.Sampler == "balanced", PinMemory = device.type == DeviceType.CUDA }, log);
        evalLoader = eval is null ? null
            : new BatchLoader(eval, TransformSpec.ForEvaluation(o.ImageSize), new LoaderOptions(o.BatchSizeEval, o.Workers, o.Seed, Shuffle: false, DropLast: false, StrictImages: o.StrictImages)
                { PinMemory = device.type == DeviceType.CUDA }, log);

        var classWeights = ClassLossWeights.Resolve(o.ClassWeights, train, log); // a bad weights file stops the run before the models load
        models = ModelSetup.Create(o.ModelArch, train.Classes.Count, o.Pretrained, method.NeedsTeacher, device);
        try
        {
            frozen = FrozenParts.Apply(models.Student, o.Freeze); // before the method and the optimizer see the parameters
            method.Prepare(new MethodSetup(train, device, o.ImageSize, log) { Seed = o.Seed, MaxIters = o.MaxIters, Save = o.Save });
            var precision = MixedPrecision.Create(o.Precision, out var fallback);
            if (fallback is not null) log.Warning("{Fallback}", fallback);
            if (precision.SpeedWarning(device) is { } slow) log.Warning("{Slow}", slow);
            var switches = o.Speed.ForRun(models.Student, precision);
            channelsLast = switches.ChannelsLastOn(device);
            if (channelsLast) CudaSpeed.WeightsToChannelsLast(models.Student); // before the optimizer flattens them
            string speed = switches.Apply(device, out var speedWarning);
            if (speedWarning is not null) log.Warning("{SpeedWarning}", speedWarning);
            log.Information("{Speed}", speed);
            context = new TrainingContext(models.Student, models.Teacher, new LossOptions(o.ClsLambda, o.EffectiveL2spLambda(method)) { ClassWeights = classWeights }) { Precision = precision, ChannelsLast = channelsLast };
            optimizer = Optimizers.Create(o.Optimizer,
                models.Student.named_parameters().Where(p => !frozen.Parameters.Contains(p.name)).Select(p => (p.name, p.parameter, method.WeightDecayApplies(p.name))),
                o.Lr, o.Wd, name => ParameterGroups.LearningRateScale(name, o.BackboneLrRatio));
            graphBackend = o.Speed.GraphBackend(device, out var noGraphs);
            if (graphBackend is not null) graphs = new StepGraphs(context, optimizer, graphBackend, log);
            else if (noGraphs is not null) log.Warning("{NoGraphs}", noGraphs);
        }
        catch
        {
            context?.Dispose();
            models.Dispose();
            throw;
        }
        board = torch.utils.tensorboard.SummaryWriter(o.TensorBoardDir); // writes each scalar through to its event file
    }

    public long TotalSteps => o.MaxIters;

    public void Begin(RunProgress progress)
    {
        long start = progress.StepsDone;
        log.Information("Run {Run}: {Arch}, {Classes} classes, {Images} training images, regularizer {Reg}, {Iters} iterations from {Start}, device {Device}, precision {Precision}",
            o.RunName, models.Student.Architecture, train.Classes.Count, train.Samples.Count, method.Name, o.MaxIters, start, device, context.Precision.Name);
        models.Student.train();
        frozen.HoldBatchNorms();
        if (o.BackboneLrRatio != 1 || frozen.Parameters.Count > 0 || o.TrainCrop != "resize_crop")
            log.Information("Protocol: backbone learning rate {Ratio} x lr; frozen {Frozen} ({Parameters} parameters, {Norms} BatchNorm layers in eval mode); training crop {Crop}",
                o.BackboneLrRatio, frozen.Prefixes.Count == 0 ? "nothing" : string.Join(",", frozen.Prefixes), frozen.Parameters.Count, frozen.BatchNormCount,
                o.TrainCrop == "resize_crop" ? o.TrainCrop : $"{o.TrainCrop} (area {o.TrainCropMinScale:G4} to 1, aspect 3/4 to 4/3)");
        int perEpoch = loader.BatchesPerEpoch;
        // On CUDA each batch arrives already on the device, its successor's copy queued (Data/DevicePrefetcher.cs).
        batches = DevicePrefetcher.For(loader.Batches((int)(start / perEpoch), (int)(start % perEpoch), cycle: true), device).GetEnumerator();
    }

    public (StepResult Result, int Images) Step(long iteration, CancellationToken cancel)
    {
        var step = method.ForIteration(iteration, o.MaxIters);
        current = step.Name;
        // Random layers (dropout) draw from LibTorch's generator: seeded per iteration, so a resumed run draws as a straight one.
        torch.random.manual_seed(SeedOf(o.Seed, iteration) ^ 0x0D0);
        optimizer.LearningRate = o.LrSchedule == "constant" ? o.Lr : LearningRateSchedule.At(iteration, o.Lr, o.MaxIters);
        if (iteration % 500 == 0) log.Information("Now training iter {Iteration}. LR={Lr:F6}", iteration, optimizer.LearningRate);
        cancel.ThrowIfCancellationRequested();
        if (!batches!.MoveNext()) throw new InvalidOperationException("the training loader ended: it cycles, so this is a bug");
        using var batch = batches.Current;
        using var scope = NewDisposeScope();
        var images = batch.Images.to(device);
        if (channelsLast) images = CudaSpeed.ToChannelsLast(images);
        var labels = batch.Labels.to(device);
        var mix = step.UsesMixup ? step.DrawMix(new Random(SeedOf(o.Seed, iteration)), batch.Count) : null;
        var input = new StepBatch(images, labels) { Weights = step.SampleWeights(batch.Indices, device), Epoch = batch.Epoch };
        frozen.HoldBatchNorms(); // the evaluator puts the student back in train mode, all of it
        var result = graphs?.Run(step, input, mix, iteration) ?? TrainingStep.Run(context, step, optimizer, input, mix, iteration);
        if (result.UpdateSkipped)
            log.Warning("Iteration {Iteration}: the fp16 gradients overflowed, so the update was skipped and the loss scale lowered to {Scale}",
                iteration, context.Precision.Scaler!.Scale);
        return (result, batch.Count);
    }

    public void Report(long iteration, StepResult s, double rate, TimeSpan remaining)
    {
        board.add_scalar("train_loss", (float)s.Loss, (int)iteration);
        foreach (var (name, value) in s.Terms) board.add_scalar($"train_{name}", (float)value, (int)iteration);
        board.add_scalar("lr", (float)optimizer.LearningRate, (int)iteration);
        board.add_scalar("train_acc", (float)s.Accuracy, (int)iteration);
        monitor.OnStep(new StepReport(iteration, o.MaxIters, current, s.Loss, s.Terms, s.Accuracy, optimizer.LearningRate, rate, remaining));
        if (LogsAfter(iteration))
            log.Information("Step[{Iteration:D4}/{Max:D4}] {Reg} loss {Loss:F4} ({Terms}) train acc {Acc:F3} lr {Lr:G4} {Rate:F1} images/s, RSS {Rss} MiB",
                iteration, o.MaxIters, current, s.Loss, s.DescribeTerms(), s.Accuracy, optimizer.LearningRate, rate, RunFiles.ResidentMiB());
    }

    public bool LogsAfter(long iteration) => iteration % o.PrintFrequency == 0;

    public bool EvaluatesAfter(long iteration) => (iteration % o.EvalFrequency == 0 && iteration != 0) || iteration + 1 == o.MaxIters;

    public Evaluated? Evaluate(long iteration, CancellationToken cancel)
    {
        if (evalLoader is null) return null;
        lastEval = Evaluator.Evaluate(models.Student, evalLoader, device, new Progress<int>(n => monitor.OnEvalProgress(n, eval!.Samples.Count)), cancel,
            context.Precision, channelsLast, graphBackend is null ? null : new EvalReplay(graphBackend, w => log.Warning("{Warning}", w)));
        log.Information("----- Iter[{Iteration:D3}/{Max:D3}], Validation Loss: {Loss:F4}, Validation Acc@1: {Top1:F4}, Acc@5: {Top5:F4}, ECE: {Ece:F4}, time: {Time:F2}",
            iteration, o.MaxIters, lastEval.Loss, lastEval.Top1, lastEval.Top5, lastEval.Ece, lastEval.Seconds);
        board.add_scalar("val_loss", (float)lastEval.Loss, (int)iteration);
        board.add_scalar("val_acc", (float)lastEval.Top1, (int)iteration);
        return new Evaluated(o.SelectBy == "nll" ? -lastEval.Nll : lastEval.Top1, lastEval.Top1);
    }

    public void Evaluation(long iteration, bool isBest, string? savedBest)
    {
        if (lastEval is not null) monitor.OnEval(new EvalReport(iteration, lastEval, isBest, savedBest));
    }

    public string SaveBest(RunProgress progress)
    {
        Checkpoint.Save(o.BestPath, models.Student, Info(progress.BestStep, progress));
        log.Information("----- Save model: {Path}", o.BestPath);
        return o.BestPath;
    }

    public string SaveLast(RunProgress progress)
    {
        Checkpoint.Save(o.LastPath, models.Student, Info(progress.StepsDone - 1, progress) with { RunState = context.Precision.WithScale(progress).ToJson() }, optimizer.State, models.Teacher);
        return o.LastPath;
    }

    public string Diverged(long iteration, StepResult s, RunProgress progress) =>
        $"the loss became {s.Loss} at iteration {iteration} ({s.DescribeTerms("G9")}); " +
        $"the best checkpoint{(progress.HasBest ? $" ({o.BestPath})" : "")} is kept; try a lower `lr`";

    private CheckpointInfo Info(long iteration, RunProgress progress) =>
        new(models.Student.Architecture, train.Classes, models.Student.AuxClasses, o.ImageSize,
            Normalization.ImageNet.Mean, Normalization.ImageNet.Std, iteration, progress.BestMetric, o.Regularizer,
            new Dictionary<string, string>(o.Arguments(method)));

    /// <summary>Loads _Last: student, mean teacher, optimizer state; returns where the run stood.</summary>
    public RunProgress Restore()
    {
        var path = o.LastPath;
        if (!File.Exists(path)) throw new WeightFileException(path, "`resume`: no _Last checkpoint to continue from");
        using var scope = NewDisposeScope();
        var (info, all) = Checkpoint.Load(path);
        CheckResumable(path, info, models.Student.Architecture, train.Classes);
        CheckSameFreeze(path, info, o.Freeze);
        StateDictLoader.Load(models.Student, Checkpoint.StudentTensors(all), path);
        if (models.Teacher is not null)
        {
            var teacher = Checkpoint.WithPrefix(all, Checkpoint.TeacherPrefix);
            if (teacher.Count == 0) throw new WeightFileException(path, "`resume`: the checkpoint holds no mean teacher");
            StateDictLoader.Load(models.Teacher, teacher, path);
        }
        optimizer.LoadState(Checkpoint.WithPrefix(all, Checkpoint.OptimizerPrefix));
        var progress = ProgressOf(path, info);
        context.Precision.RestoreScale(progress);
        log.Information("Resuming {Run} after iteration {Iteration} (best eval accuracy {Best:F4})", o.RunName, progress.StepsDone - 1, progress.BestMetric);
        return progress;
    }

    /// <summary>That the _Last at <paramref name="path"/> (its header <paramref name="info"/>) belongs to this run: same
    /// architecture, same classes in the same order. Used by <see cref="Restore"/> and the dry run's preflight.</summary>
    internal static void CheckResumable(string path, CheckpointInfo info, string architecture, IReadOnlyList<string> classes)
    {
        if (!string.Equals(info.Architecture, architecture, StringComparison.Ordinal))
            throw new WeightFileException(path, $"`resume`: the checkpoint is a {info.Architecture}, this run a {architecture}");
        if (!info.Classes.SequenceEqual(classes, StringComparer.Ordinal))
            throw new WeightFileException(path, $"`resume`: the checkpoint's classes ({info.Classes.Count}: {string.Join(", ", info.Classes.Take(3))}...) " +
                $"are not the training folder's ({classes.Count}: {string.Join(", ", classes.Take(3))}...); resuming would relabel the outputs");
    }

    /// <summary>That the _Last was trained with the same frozen parts: they decide which parameters the optimizer holds, so
    /// another set would leave its saved state without a parameter or a parameter without its state. A _Last written
    /// before the setting existed froze nothing.</summary>
    internal static void CheckSameFreeze(string path, CheckpointInfo info, IReadOnlyList<string> freeze)
    {
        static string Normal(IEnumerable<string> prefixes) =>
            string.Join(",", prefixes.Select(p => p.Trim().TrimEnd('.')).Where(p => p.Length > 0).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));
        string saved = Normal((info.Arguments.GetValueOrDefault("freeze") ?? "").Split(','));
        string now = Normal(freeze);
        if (saved != now)
            throw new WeightFileException(path, $"`resume`: the checkpoint was trained with `freeze` '{saved}', this run has '{now}'; resume with the same parts frozen");
    }

    /// <summary>The run_state of <paramref name="info"/>, or, for a _Last written before it existed, the same facts
    /// from the older argument entries.</summary>
    private static RunProgress ProgressOf(string path, CheckpointInfo info)
    {
        try
        {
            if (RunProgress.FromJson(info.RunState) is { } progress) return progress;
            var c = System.Globalization.CultureInfo.InvariantCulture;
            var a = info.Arguments;
            return new RunProgress(info.Iteration + 1,
                a.TryGetValue("best_score", out var bs) ? double.Parse(bs, c) : info.BestAccuracy,
                a.TryGetValue("best_iteration", out var b) ? long.Parse(b, c) : -1,
                a.TryGetValue("evals_since_best", out var sb) ? int.Parse(sb, c) : 0,
                info.BestAccuracy);
        }
        catch (FormatException e)
        {
            throw new WeightFileException(path, $"`resume`: damaged run state ({e.Message})", e);
        }
    }

    /// <summary>The end of the run as the CLI and the summary JSON report it.</summary>
    public TrainingSummary Finish(EngineOutcome outcome)
    {
        var p = outcome.Progress;
        if (evalLoader is null && !outcome.Interrupted)
            log.Information("No evaluation set: the last checkpoint {Path} is the result", o.LastPath);
        if (loader.BadImageCount > 0)
            log.Warning("{Count} unreadable training image(s) were replaced by others of their class", loader.BadImageCount);
        var summary = new TrainingSummary(o.Name, method.Name, models.Student.Architecture, p.StepsDone, outcome.StartStep, p.BestMetric, p.BestStep, lastEval,
            outcome.Seconds, outcome.ImagesPerSecond, loader.BadImageCount, p.HasBest ? o.BestPath : null, o.LastPath, outcome.Interrupted, outcome.EarlyStopped);
        RunFiles.WriteSummary(o.SummaryPath, summary);
        return summary;
    }

    /// <summary>The mixup draw of an iteration depends on (seed, iteration) only, so a resumed run draws the same.</summary>
    private static int SeedOf(int seed, long iteration) => SampleRandom.Seed(seed, iteration, 0x5E1F); // not HashCode: it is salted per process

    public void Dispose()
    {
        batches?.Dispose();
        graphs?.Dispose();
        optimizer.Dispose();
        context.Dispose();
        models.Dispose();
    }
}

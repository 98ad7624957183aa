using System.Diagnostics;
using Serilog;
using Smile.Data;
using Smile.Evaluation;
using Smile.Models;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// The reference's finetune.py loop, iteration-based: one regularizer step per batch, the learning-rate
/// drop, SMILE's plain final iterations, evaluation every eval_frequency iterations and after the last,
/// the best checkpoint kept, and a rolling _Last checkpoint (with optimizer state and mean teacher) from
/// which --resume continues exactly: batches, augmentation and mixup draws depend only on (seed, iteration).
/// </summary>
public sealed class Trainer(FinetuneOptions options, ILogger log, ITrainingMonitor? monitor = null)
{
    private readonly ITrainingMonitor monitor = monitor ?? new NullMonitor();

    private sealed class NullMonitor : ITrainingMonitor;

    public TrainingSummary Run(CancellationToken cancel = default)
    {
        var o = options;
        var device = DeviceSelection.Parse(o.Device);
        torch.random.manual_seed(o.Seed);
        Directory.CreateDirectory(o.Save);

        var folder = ImageFolder.ForTraining(o.TrainDir);
        foreach (var warning in folder.Warnings) log.Warning("{Warning}", warning);
        var (train, eval) = ValidationSplit.Choose(folder, o.ValSplit, o.EvalDir, "--eval_dir", o.Seed, log);
        bool byNll = o.SelectBy == "nll";
        var regularizer = Regularizers.Create(o.Regularizer);
        var plain = Regularizers.Create("l2");
        var spec = TransformSpec.ForTraining(o.ImageSize);
        var loader = new BatchLoader(train, spec, new LoaderOptions(o.BatchSize, o.Workers, o.Seed, Shuffle: true, DropLast: true, StrictImages: o.StrictImages), log);
        var evalLoader = eval is null ? null
            : new BatchLoader(eval, TransformSpec.ForEvaluation(o.ImageSize), new LoaderOptions(o.BatchSizeEval, o.Workers, o.Seed, Shuffle: false, DropLast: false, StrictImages: o.StrictImages), log);

        using var models = ModelSetup.Create(o.ModelArch, train.Classes.Count, o.Pretrained, regularizer.NeedsTeacher, device);
        var student = models.Student;
        using var frozen = FrozenNetworkSet.Load(regularizer, o.FrozenNetworkFiles, train.Classes, device);
        using var weakShot = WeakShotInputs.Load(o, regularizer, train, device, log);
        using var context = new TrainingContext(student, models.Teacher, o.Regularization) { FrozenNetworks = frozen.Networks, SimilarityNetwork = weakShot.SimNet };
        using var sgd = Optimizers.Create(o.Optimizer,
            student.named_parameters().Select(p => (p.name, p.parameter, regularizer.WeightDecayApplies(p.name))), o.Lr, o.Wd);

        long start = 0;
        double best = 0;                          // top-1 of the selected checkpoint
        double bestScore = double.NegativeInfinity; // the selection metric, higher is better (-NLL for --select_by nll)
        long bestIteration = -1;
        int sinceBest = 0;                        // evaluations without improvement, for --early_stop
        bool earlyStopped = false;
        if (o.Resume) (start, best, bestIteration, bestScore, sinceBest) = Restore(models, sgd);

        log.Information("Run {Run}: {Arch}, {Classes} classes, {Images} training images, regularizer {Reg}, {Iters} iterations from {Start}, device {Device}",
            o.RunName, student.Architecture, train.Classes.Count, train.Samples.Count, regularizer.Name, o.MaxIters, start, device);
        var board = torch.utils.tensorboard.SummaryWriter(o.TensorBoardDir); // writes each scalar through to its event file

        var clock = Stopwatch.StartNew();
        var window = Stopwatch.StartNew();
        long imagesSeen = 0, windowImages = 0;
        EvalResult? lastEval = null;
        long iteration = start;
        bool interrupted = false;
        student.train();
        int perEpoch = loader.BatchesPerEpoch;
        try
        {
            foreach (var batch in loader.Batches((int)(start / perEpoch), (int)(start % perEpoch), cycle: true, cancel))
            {
                if (iteration >= o.MaxIters) { batch.Dispose(); break; }
                if (cancel.IsCancellationRequested) { batch.Dispose(); interrupted = true; break; }
                bool isPlainTail = regularizer.Name == "smile" && iteration >= o.MaxIters - o.PlainIters;
                var current = isPlainTail ? plain : regularizer;
                // Random layers (dropout) draw from LibTorch's generator: seeded per iteration, so a resumed run draws as a straight one.
                torch.random.manual_seed(SeedOf(o.Seed, iteration) ^ 0x0D0);
                sgd.LearningRate = o.LrSchedule == "constant" ? o.Lr : LearningRateSchedule.At(iteration, o.Lr, o.MaxIters);
                if (iteration % 500 == 0) log.Information("Now training iter {Iteration}. LR={Lr:F6}", iteration, sgd.LearningRate);

                double loss, accuracy;
                Dictionary<string, double> terms;
                using (var scope = NewDisposeScope())
                using (batch)
                {
                    var images = batch.Images.to(device);
                    var labels = batch.Labels.to(device);
                    var mix = current.UsesMixup ? MixPlan.Draw(new Random(SeedOf(o.Seed, iteration)), o.Regularization.Alpha, batch.Count) : null;
                    sgd.ZeroGrad();
                    var losses = current.Loss(context, new StepBatch(images, labels) { Weights = weakShot.BatchWeights(batch, device), Epoch = batch.Epoch }, mix);
                    loss = losses.Total.item<float>();
                    if (!double.IsFinite(loss))
                        throw new DivergedException($"the loss became {loss} at iteration {iteration} ({string.Join(", ", losses.Terms.Select(t => $"{t.Key} {t.Value.item<float>()}"))}); " +
                            $"the best checkpoint{(bestIteration >= 0 ? $" ({o.BestPath})" : "")} is kept; try a lower --lr");
                    terms = losses.Terms.ToDictionary(t => t.Key, t => (double)t.Value.item<float>());
                    losses.Total.backward();
                    sgd.Step();
                    current.AfterStep(context, iteration);
                    // From the step's own logits: the reference re-runs an eval-mode forward to log this; Smile does not pay for it.
                    accuracy = losses.Accuracy?.item<float>() ?? double.NaN;
                }
                Smile.Native.NativeGarbage.Release();
                imagesSeen += batch.Count;
                windowImages += batch.Count;

                board.add_scalar("train_loss", (float)loss, (int)iteration);
                foreach (var (name, value) in terms) board.add_scalar($"train_{name}", (float)value, (int)iteration);
                board.add_scalar("lr", (float)sgd.LearningRate, (int)iteration);
                board.add_scalar("train_acc", (float)accuracy, (int)iteration);

                double rate = windowImages / Math.Max(window.Elapsed.TotalSeconds, 1e-9);
                var remaining = TimeSpan.FromSeconds((o.MaxIters - iteration - 1) * o.BatchSize / Math.Max(rate, 1e-9));
                var report = new StepReport(iteration, o.MaxIters, current.Name, loss, terms, accuracy, sgd.LearningRate, rate, remaining);
                monitor.OnStep(report);
                if (iteration % o.PrintFrequency == 0)
                {
                    log.Information("Step[{Iteration:D4}/{Max:D4}] {Reg} loss {Loss:F4} ({Terms}) train acc {Acc:F3} lr {Lr:G4} {Rate:F1} images/s, RSS {Rss} MiB",
                        iteration, o.MaxIters, current.Name, loss, string.Join(", ", terms.Select(t => $"{t.Key} {t.Value:F4}")), accuracy, sgd.LearningRate, rate, RunFiles.ResidentMiB());
                    window.Restart();
                    windowImages = 0;
                }

                bool last = iteration + 1 == o.MaxIters;
                if ((iteration % o.EvalFrequency == 0 && iteration != 0) || last)
                {
                    string? saved = null;
                    bool isBest = false;
                    if (evalLoader is not null)
                    {
                        lastEval = Evaluator.Evaluate(student, evalLoader, device, new Progress<int>(n => monitor.OnEvalProgress(n, eval!.Samples.Count)), cancel);
                        log.Information("----- Iter[{Iteration:D3}/{Max:D3}], Validation Loss: {Loss:F4}, Validation Acc@1: {Top1:F4}, Acc@5: {Top5:F4}, ECE: {Ece:F4}, time: {Time:F2}",
                            iteration, o.MaxIters, lastEval.Loss, lastEval.Top1, lastEval.Top5, lastEval.Ece, lastEval.Seconds);
                        board.add_scalar("val_loss", (float)lastEval.Loss, (int)iteration);
                        board.add_scalar("val_acc", (float)lastEval.Top1, (int)iteration);
                        double score = byNll ? -lastEval.Nll : lastEval.Top1;
                        if (score > bestScore || bestIteration < 0)
                        {
                            isBest = true;
                            bestScore = score;
                            sinceBest = 0;
                            best = lastEval.Top1;
                            bestIteration = iteration;
                            Checkpoint.Save(o.BestPath, student, Info(student, train, iteration, best), sgd.State);
                            saved = o.BestPath;
                            log.Information("----- Save model: {Path}", o.BestPath);
                        }
                    }
                    if (evalLoader is not null && !isBest) sinceBest++;
                    SaveLast(student, models.Teacher, sgd, train, iteration, best, bestIteration, bestScore, sinceBest);
                    if (lastEval is not null) monitor.OnEval(new EvalReport(iteration, lastEval, isBest, saved));
                    if (o.EarlyStop is int patience && sinceBest >= patience && !last)
                    {
                        log.Information("Early stop after iteration {Iteration}: {N} evaluations without a better validation {Metric} (best at iteration {Best})",
                            iteration, sinceBest, byNll ? "NLL" : "top-1", bestIteration);
                        earlyStopped = true;
                        iteration++;
                        break;
                    }
                }
                iteration++;
                if (o.StopAfter is long stopAfter && iteration >= stopAfter && iteration < o.MaxIters)
                {
                    interrupted = true;
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            interrupted = true;
        }
        if (interrupted && iteration > start)
        {
            SaveLast(student, models.Teacher, sgd, train, iteration - 1, best, bestIteration, bestScore, sinceBest);
            log.Warning("Stopped after {Done} of {Max} iterations: {Path} written; continue with --resume", iteration, o.MaxIters, o.LastPath);
        }
        if (evalLoader is null && !interrupted)
            log.Information("No --eval_dir: the last checkpoint {Path} is the result", o.LastPath);
        if (loader.BadImageCount > 0)
            log.Warning("{Count} unreadable training image(s) were replaced by others of their class", loader.BadImageCount);

        double seconds = clock.Elapsed.TotalSeconds;
        var summary = new TrainingSummary(o.Name, regularizer.Name, student.Architecture, iteration, start, best, bestIteration, lastEval,
            seconds, imagesSeen / Math.Max(seconds, 1e-9), loader.BadImageCount, bestIteration >= 0 ? o.BestPath : null, o.LastPath, interrupted, earlyStopped);
        RunFiles.WriteSummary(options.SummaryPath, summary);
        return summary;
    }

    private CheckpointInfo Info(ImageClassifier student, ImageFolder train, long iteration, double best) =>
        new(student.Architecture, train.Classes, student.AuxClasses, options.ImageSize,
            Normalization.ImageNet.Mean, Normalization.ImageNet.Std, iteration, best, options.Regularizer,
            new Dictionary<string, string>(options.Arguments()));

    private void SaveLast(ImageClassifier student, ImageClassifier? teacher, IOptimizer sgd, ImageFolder train, long iteration, double best, long bestIteration, double bestScore, int sinceBest)
    {
        var c = System.Globalization.CultureInfo.InvariantCulture;
        var info = Info(student, train, iteration, best) with
        {
            // The selection state, so that --resume continues selection and early stopping exactly.
            Arguments = new Dictionary<string, string>(options.Arguments())
            {
                ["best_iteration"] = bestIteration.ToString(c), ["best_score"] = bestScore.ToString("R", c), ["evals_since_best"] = sinceBest.ToString(c),
            },
        };
        Checkpoint.Save(options.LastPath, student, info, sgd.State, teacher);
    }

    /// <summary>Loads _Last: student, mean teacher, momentum; returns the iteration to continue from.</summary>
    private (long Start, double Best, long BestIteration, double BestScore, int SinceBest) Restore(RunModels models, IOptimizer sgd)
    {
        var path = options.LastPath;
        if (!File.Exists(path)) throw new WeightFileException(path, "--resume: no _Last checkpoint to continue from");
        using var scope = NewDisposeScope();
        var (info, all) = Checkpoint.Load(path);
        if (!string.Equals(info.Architecture, models.Student.Architecture, StringComparison.Ordinal))
            throw new WeightFileException(path, $"--resume: the checkpoint is a {info.Architecture}, this run a {models.Student.Architecture}");
        StateDictLoader.Load(models.Student, Checkpoint.StudentTensors(all), path);
        if (models.Teacher is not null)
        {
            var teacher = Checkpoint.WithPrefix(all, Checkpoint.TeacherPrefix);
            if (teacher.Count == 0) throw new WeightFileException(path, "--resume: the checkpoint holds no mean teacher");
            StateDictLoader.Load(models.Teacher, teacher, path);
        }
        sgd.LoadState(Checkpoint.WithPrefix(all, Checkpoint.OptimizerPrefix));
        var c = System.Globalization.CultureInfo.InvariantCulture;
        long bestIteration = info.Arguments.TryGetValue("best_iteration", out var b) ? long.Parse(b, c) : -1;
        double bestScore = info.Arguments.TryGetValue("best_score", out var bs) ? double.Parse(bs, c) : info.BestAccuracy;
        int sinceBest = info.Arguments.TryGetValue("evals_since_best", out var sb) ? int.Parse(sb, c) : 0;
        log.Information("Resuming {Run} after iteration {Iteration} (best eval accuracy {Best:F4})", options.RunName, info.Iteration, info.BestAccuracy);
        return (info.Iteration + 1, info.BestAccuracy, bestIteration, bestScore, sinceBest);
    }

    /// <summary>The mixup draw of an iteration depends on (seed, iteration) only, so a resumed run draws the same.</summary>
    private static int SeedOf(int seed, long iteration) => SampleRandom.Seed(seed, iteration, 0x5E1F); // not HashCode: it is salted per process
}

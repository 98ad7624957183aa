using System.CommandLine;
using Serilog;
using Smile.Data;
using Smile.Models;
using Smile.Methods;
using Smile.Training;

namespace Smile.Cli.Commands;

/// <summary>
/// `smile finetune`: the reference's finetune.py flags and defaults, plus Smile's own. `smile distill` is the
/// same verb with the ILS paper's distillation defaults (<see cref="Profile.Distill"/>): same loader, logging,
/// checkpoints and selection.
/// </summary>
internal static class FinetuneCommand
{
    /// <summary>The defaults that differ between the two verbs.</summary>
    internal sealed record Profile(string Verb, string Description, string Name, string Arch, string Regularizer, string Optimizer,
        double Lr, double Wd, int BatchSize, string LrSchedule, double ClsLambda)
    {
        public static readonly Profile Finetune = new("finetune", "Fine-tune a pre-trained network with SMILE or a baseline (the reference's finetune.py).",
            "flower102", "resnet50", "smile", "sgd", 0.01, 1e-4, 48, "step", 1e-4);
        public static readonly Profile Distill = new("distill", "Distil a teacher checkpoint into a student (Hinton; the ILS paper's defaults: shallow CNN, Adam 1e-3, batch 256, T 20, alpha 0.9).",
            "distill", "shallow_cnn", "kd", "adam", 1e-3, 0, 256, "constant", 0);
    }

    public static Command Create() => Create(Profile.Finetune);

    public static Command Create(Profile profile)
    {
        var d = new FinetuneOptions { TrainDir = "" }; // the defaults live in the options record; a verb's profile overrides some
        var name = Flags.Make("name", "Run name: files are {save}/{name}_{regularizer}_Best.safetensors etc.", profile.Name);
        var trainDir = Flags.Optional<string>("train_dir", "Training ImageFolder (one subfolder per class).");
        var evalDir = Flags.Optional<string>("eval_dir", "Evaluation ImageFolder; without it the last checkpoint is the result.");
        var datasets = new DatasetFlags();
        var trainList = datasets.List("train_list", "Training list file instead of --train_dir: 'path label' lines (class indices) or a CSV with the header path,label or path,class.");
        var evalList = datasets.List("eval_list", "Evaluation list file instead of --eval_dir; its classes are matched to the training classes by name.");
        var save = Flags.Make("save", "Output folder for checkpoints, log and summary.", d.Save);
        var logDir = Flags.Make("log_dir", "TensorBoard folder (scalars under {log_dir}/{regularizer}).", d.LogDir);
        var arch = Flags.Make("model_arch", $"Architecture: {string.Join(", ", ModelFactory.Names)}.", profile.Arch);
        var imageSize = Flags.Make("image_size", "Crop size; images are first resized to 256/224 of it.", d.ImageSize);
        var batchSize = Flags.Make("batch_size", "Training batch size.", profile.BatchSize);
        var batchSizeEval = Flags.Make("batch_size_eval", "Evaluation batch size.", d.BatchSizeEval);
        var maxIters = Flags.Make("max_iters", "Training iterations.", d.MaxIters);
        var lr = Flags.Make("lr", "Learning rate (with --lr_schedule step: x0.1 at floor(2*(max_iters+1000)/3)).", profile.Lr);
        var wd = Flags.Make("wd", "Weight decay (coupled, as torch.optim.SGD and Adam).", profile.Wd);
        var optimizer = Flags.Make("optimizer", "sgd (Nesterov momentum 0.9) or adam.", profile.Optimizer);
        var lrSchedule = Flags.Make("lr_schedule", "step (the reference's) or constant.", profile.LrSchedule);
        var gpu = Flags.Optional<int?>("gpu", "CUDA device number (same as --device cuda:N).");
        var device = Flags.Make("device", "cpu, cuda, cuda:N or auto.", d.Device);
        var precision = Flags.Make("precision", "fp32 (the reference's), bf16 or fp16: mixed precision through LibTorch's autocast, on CPU and CUDA (fp16 with a dynamic loss scaler).", d.Precision);
        var noCudnnBenchmark = Flags.Make("no_cudnn_benchmark", "Turn cuDNN autotuning off (on by default on CUDA; no effect on the CPU).", false);
        var noTf32 = Flags.Make("no_tf32", "Keep fp32 matrix products and convolutions in full fp32 on CUDA (TF32 is on by default on GPUs that have it; no effect on the CPU).", false);
        var noCudaGraphs = Flags.Make("no_cuda_graphs", "Run every training step eagerly on CUDA (by default the step is captured as a CUDA graph after 3 eager steps and replayed; no effect on the CPU).", false);
        var channelsLast = Flags.Make("channels_last", "auto (on on CUDA; on the CPU, on for ResNets under bf16/fp16 autocast where oneDNN has kernels for it, else off), on or off: training batches in channels-last (NHWC) memory format.", "auto");
        var seed = Flags.Make("seed", "Random seed: data order, augmentation, mixup and initialisation.", d.Seed);
        var printFrequency = Flags.Make("print_frequency", "Log a training line every N iterations.", d.PrintFrequency);
        var evalFrequency = Flags.Make("eval_frequency", "Evaluate every N iterations (and after the last).", d.EvalFrequency);
        var clsLambda = Flags.Make("cls_lambda", "Weight of the classifier L2 (fc and aux_fc).", profile.ClsLambda);
        var l2spLambda = Flags.Optional<double?>("l2sp_lambda", "L2-SP weight (default 0.01 for --regularizer l2sp, else 0: off).");
        var regularizer = Flags.Make("regularizer", $"One of {string.Join(", ", Regularizers.Names)}.", profile.Regularizer);
        var pretrained = Flags.Optional<string>("pretrained", "Pre-trained weights: .pth, safetensors, or a Smile checkpoint.");
        var workers = Flags.Make("workers", "Data loading threads (0: the number of cores).", d.Workers);
        var resume = new Option<bool>("--resume") { Description = "Continue from {save}/{name}_{regularizer}_Last.safetensors." };
        var strictImages = Flags.Make("strict_images", "Stop at an unreadable image instead of replacing it.", d.StrictImages);
        var stopAfter = Flags.Optional<long?>("stop_after", "Stop once this many iterations are done (writing _Last), to split a run into sessions.");
        var valSplit = Flags.Make("val_split", "Hold out this fraction of every training class (seeded) as the validation set, instead of --eval_dir.", d.ValSplit);
        var selectBy = Flags.Make("select_by", "Best checkpoint by validation acc (highest top-1) or nll (lowest NLL).", d.SelectBy);
        var earlyStop = Flags.Optional<int?>("early_stop", "Stop after N evaluations without a better validation score.");
        // Run configs, sampling, class weights and the preflight (RunConfig.cs, FinetuneDryRun.cs).
        var config = Flags.Optional<string>("config", "Run from a config file (a run's {save}/{name}_{regularizer}_config.json); flags given here override its values.");
        var dryRun = Flags.Make("dry_run", "Check every input and print what the run would do, then stop: nothing is trained or written.", false);
        var sampler = Flags.Make("sampler", "random (shuffled epochs, the reference's) or balanced (every class drawn equally often per epoch).", d.Sampler);
        var classWeights = Flags.Optional<string>("class_weights", "Weight the label cross-entropy per class: balanced (n_samples / (n_classes * count)) or a file of class,weight lines.");

        var methodFlags = new MethodFlags();
        var protocol = new ProtocolFlags(); // --backbone_lr_ratio, --freeze, --train_crop (ProtocolFlags.cs)
        var command = new Command(profile.Verb, profile.Description)
        {
            name, trainDir, evalDir, save, logDir, arch, imageSize, batchSize, batchSizeEval, maxIters, lr, wd, gpu, device,
            seed, printFrequency, evalFrequency, clsLambda, l2spLambda, regularizer, pretrained, workers, resume, strictImages, stopAfter,
            valSplit, selectBy, earlyStop, optimizer, lrSchedule, precision, noCudnnBenchmark, noTf32, noCudaGraphs, channelsLast,
        };
        foreach (var option in new Option[] { trainList, evalList }.Concat(datasets.Shared)) command.Options.Add(option);
        foreach (var option in methodFlags.Options) command.Options.Add(option);
        foreach (var option in new Option[] { config, dryRun, sampler, classWeights }) command.Options.Add(option);
        foreach (var option in protocol.Options) command.Options.Add(option);
        command.SetAction(parse =>
        {
            // --config: the file's values for every flag not given here; then everything below reads the merged flags.
            var (configured, fromConfig, configFile) = RunConfig.Apply(parse, config);
            parse = configured;
            ImageLimitOption.Apply(parse); // a config may set --max_image_pixels
            // Every flag is checked before any work starts, each with its own one-line error.
            string reg = parse.GetValue(regularizer)!.Trim().ToLowerInvariant();
            Flags.Require(Regularizers.Names.Contains(reg), "regularizer", $"unknown '{reg}'; known: {string.Join(", ", Regularizers.Names)}");
            Flags.Require(ModelFactory.IsKnown(parse.GetValue(arch)!), "model_arch", $"unknown '{parse.GetValue(arch)}'; known: {string.Join(", ", ModelFactory.Names)}");
            var data = datasets.Read(parse);
            var trainData = data.Required(trainDir, trainList);
            var evalData = data.Optional(evalDir, evalList);
            string? weights = parse.GetValue(pretrained) is { } p ? Flags.ExistingFile(p, "pretrained") : null;
            Flags.Require(parse.GetValue(imageSize) >= 32, "image_size", "must be at least 32");
            Flags.Require(parse.GetValue(imageSize) <= 4096, "image_size", "must be at most 4096 (a 4096x4096 crop already needs gigabytes per batch)");
            Flags.Require(!string.IsNullOrWhiteSpace(parse.GetValue(save)), "save", "must name a folder");
            Flags.Require(!string.IsNullOrWhiteSpace(parse.GetValue(name)) && parse.GetValue(name)!.IndexOfAny(['/', '\\']) < 0 && parse.GetValue(name) is not ("." or ".."),
                "name", "must be a plain file-name part (no folder separators): the run's files go into --save");
            Flags.Require(parse.GetValue(batchSize) >= 2, "batch_size", "must be at least 2 (BatchNorm in train mode)");
            Flags.Require(parse.GetValue(batchSizeEval) >= 1, "batch_size_eval", "must be at least 1");
            Flags.Require(parse.GetValue(maxIters) >= 1, "max_iters", "must be at least 1");
            Flags.Require(parse.GetValue(lr) > 0 && double.IsFinite(parse.GetValue(lr)), "lr", "must be a positive number");
            Flags.Require(parse.GetValue(wd) >= 0, "wd", "must be 0 or more");
            Flags.Require(parse.GetValue(clsLambda) >= 0, "cls_lambda", "must be 0 or more");
            Flags.Require(parse.GetValue(l2spLambda) is null or >= 0, "l2sp_lambda", "must be 0 or more");
            Flags.Require(parse.GetValue(printFrequency) >= 1, "print_frequency", "must be at least 1");
            Flags.Require(parse.GetValue(evalFrequency) >= 1, "eval_frequency", "must be at least 1");
            Flags.Require(parse.GetValue(workers) >= 0, "workers", "must be 0 (all cores) or more");
            Flags.Require(parse.GetValue(stopAfter) is null or >= 1, "stop_after", "must be at least 1");
            Flags.Require(parse.GetValue(valSplit) is >= 0 and < 1, "val_split", "must be in [0, 1) (0: off)");
            Flags.Require(parse.GetValue(valSplit) == 0 || evalData is null, "val_split", $"and {(evalData is ImageListSource ? "--eval_list" : "--eval_dir")} are alternatives: the held-out part is the validation set (run `smile test` on the test set afterwards)");
            string select = parse.GetValue(selectBy)!.Trim().ToLowerInvariant();
            Flags.Require(select is "acc" or "nll", "select_by", $"must be acc or nll, not '{select}'");
            Flags.Require(parse.GetValue(earlyStop) is null or >= 1, "early_stop", "must be at least 1");
            Flags.Require(parse.GetValue(earlyStop) is null || evalData is not null || parse.GetValue(valSplit) > 0, "early_stop", "needs a validation set (--eval_dir, --eval_list or --val_split)");
            string opt = parse.GetValue(optimizer)!.Trim().ToLowerInvariant();
            Flags.Require(Optimizers.Names.Contains(opt), "optimizer", $"must be {string.Join(" or ", Optimizers.Names)}, not '{opt}'");
            string schedule = parse.GetValue(lrSchedule)!.Trim().ToLowerInvariant();
            Flags.Require(schedule is "step" or "constant", "lr_schedule", $"must be step or constant, not '{schedule}'");
            string deviceName = parse.GetValue(gpu) is int g ? $"cuda:{g}" : parse.GetValue(device)!;
            DeviceSelection.Parse(deviceName); // fails now, not after the data is scanned
            string arithmetic = Flags.Precision(parse.GetValue(precision));
            string layout = (parse.GetValue(channelsLast) ?? "").Trim().ToLowerInvariant();
            Flags.Require(CudaSpeed.ChannelsLastModes.Contains(layout), "channels_last", $"must be {string.Join(", ", CudaSpeed.ChannelsLastModes)}, not '{layout}'");
            // The method's own settings are checked by the method itself (each names its setting, which is its flag).
            var methodValues = methodFlags.Read(parse);
            var method = Regularizers.Configure(reg, methodValues);
            Flags.Require(weights is not null || !method.NeedsTeacher, "pretrained", $"--regularizer {reg} distils from the pre-trained model: give its weights");

            DatasetFlags.CheckLists(trainData, evalData); // a list's every line, before anything is written
            string samplerName = parse.GetValue(sampler)!.Trim().ToLowerInvariant();
            Flags.Require(samplerName is "random" or "balanced", "sampler", $"must be random or balanced, not '{samplerName}'");
            string? weightsSpec = parse.GetValue(classWeights) is not { } cw ? null
                : cw.Trim() == ClassLossWeights.BalancedName ? ClassLossWeights.BalancedName : Flags.ExistingFile(cw, "class_weights");

            var options = new FinetuneOptions
            {
                TrainList = trainData as ImageListSource, EvalList = evalData as ImageListSource,
                Name = parse.GetValue(name)!, TrainDir = (trainData as FolderSource)?.Root ?? "", EvalDir = (evalData as FolderSource)?.Root, Save = parse.GetValue(save)!, LogDir = parse.GetValue(logDir)!,
                ModelArch = parse.GetValue(arch)!, ImageSize = parse.GetValue(imageSize), BatchSize = parse.GetValue(batchSize),
                BatchSizeEval = parse.GetValue(batchSizeEval), MaxIters = parse.GetValue(maxIters),
                Lr = parse.GetValue(lr), Wd = parse.GetValue(wd), Regularizer = method.Name, Seed = parse.GetValue(seed),
                PrintFrequency = parse.GetValue(printFrequency), EvalFrequency = parse.GetValue(evalFrequency), Pretrained = weights,
                Device = deviceName, Workers = parse.GetValue(workers), Resume = parse.GetValue(resume), StrictImages = parse.GetValue(strictImages), StopAfter = parse.GetValue(stopAfter),
                MethodSettings = methodValues, ClsLambda = parse.GetValue(clsLambda), L2spLambda = parse.GetValue(l2spLambda),
                ValSplit = parse.GetValue(valSplit), SelectBy = select, EarlyStop = parse.GetValue(earlyStop),
                Optimizer = opt, LrSchedule = schedule, Precision = arithmetic,
                Speed = new CudaSpeed(!parse.GetValue(noCudnnBenchmark), !parse.GetValue(noTf32), layout, !parse.GetValue(noCudaGraphs)),
            };
            options = options with { Sampler = samplerName, ClassWeights = weightsSpec };
            options = protocol.Apply(parse, options);
            using var run = method;
            // The complete settings of the run, as its config file holds them.
            var settings = RunConfig.Collect(parse, FinetuneConfig.Resolved(options, method, methodValues), key => FinetuneConfig.Holds(key, methodFlags, method));
            if (options.Resume && configFile is not null) RunConfig.CheckResume(configFile, options.LastPath, options.Arguments(method), fromConfig.Keys);
            if (parse.GetValue(dryRun)) return FinetuneDryRun.Print(options, method, settings);
            return TrainingRun.Execute(options.Save, options.LogPath, options.Arguments(method), (log, monitor, cancel) =>
            {
                RunConfig.Write(options.ConfigPath, settings);
                log.Information("Settings: {Path} (`smile {Verb} --config {Path}` runs them again)", options.ConfigPath, profile.Verb, options.ConfigPath);
                var summary = new Trainer(options, method, log, monitor).Run(cancel);
                return new RunOutcome(summary.Interrupted,
                    summary.LastEval is { } last
                        ? $"done: {summary.Iterations} iterations, {(options.SelectBy == "nll" ? "kept the lowest eval NLL: top-1" : "best eval top-1")} {summary.BestAccuracy:F4} at iteration {summary.BestIteration} ({summary.BestCheckpoint}); last eval top-1 {last.Top1:F4}, NLL {last.Nll:F4}; {summary.ImagesPerSecond:F1} images/s"
                        : $"done: {summary.Iterations} iterations, {summary.ImagesPerSecond:F1} images/s; checkpoint {summary.LastCheckpoint}",
                    $"summary: {options.SummaryPath}");
            });
        });
        return command;
    }
}

using System.CommandLine;
using Smile.Models;
using Smile.Training;
using Smile.WeakShot;

namespace Smile.Cli.Commands.SimTrans;

/// <summary>
/// `smile simtrans train-simnet`: trains the SimNet on pairs of clean base images (the paper's defaults), keeps the
/// SimNet with the best held-out pair F1 as {save}/{name}_Best.safetensors and the last, with optimizer state,
/// as {name}_Last.safetensors for --resume.
/// </summary>
internal static class TrainSimNetCommand
{
    public static Command Create()
    {
        var d = new SimNetOptions { BaseDir = "" }; // the defaults live in the options record, once
        var name = Flags.Make("name", "Run name: files are {save}/{name}_Best.safetensors, _Last, .txt, _summary.json.", d.Name);
        var baseDir = Flags.Optional<string>("base_dir", "Clean base classes (ImageFolder: one subfolder per class).");
        var valSplit = Flags.Optional<double?>("val_split", "Fraction of every base class held out (seeded) for the pair F1 (default 0.1; 0: no validation).");
        var valDir = Flags.Optional<string>("val_dir", "Held-out base images (ImageFolder), instead of --val_split.");
        var webDir = Flags.Optional<string>("web_dir", "Noisy web images of the novel classes (ImageFolder); needed by --adversarial_weight > 0.");
        var pretrained = Flags.Optional<string>("pretrained", "The base classifier (`smile finetune` checkpoint of the base classes), or a plain .pth/.safetensors state dict.");
        var arch = Flags.Optional<string>("model_arch", $"Backbone: {string.Join(", ", ModelFactory.Names)} (default: the checkpoint's; resnet50 without one).");
        var imageSize = Flags.Make("image_size", "Crop size; images are first resized to 256/224 of it.", d.ImageSize);
        var classesPerBatch = Flags.Make("classes_per_batch", "Classes drawn for each batch.", d.ClassesPerBatch);
        var batchSize = Flags.Make("batch_size", "Images per batch (all B² ordered pairs are trained on).", d.BatchSize);
        var epochs = Flags.Make("epochs", "Training epochs.", d.Epochs);
        var lr = Flags.Make("lr", "Learning rate of SGD (plain momentum 0.9).", d.Lr);
        var lrStep = Flags.Make("lr_step", "Halve the learning rate every N epochs.", d.LrStep);
        var wd = Flags.Make("wd", "Weight decay (coupled, as torch.optim.SGD).", d.Wd);
        var relationDim = Flags.Optional<int?>("relation_dim", "Width of the relation feature (default: the backbone's feature width).");
        var adversarialWeight = Flags.Make("adversarial_weight", "β of L_sim − β·L_D: the adversarial discriminator of base and web pairs (0: off).", d.AdversarialWeight);
        var itersPerEpoch = Flags.Optional<int?>("iters_per_epoch", "Steps per epoch (default: base training images / batch size).");
        var seed = Flags.Make("seed", "Random seed: split, batches, augmentation and initialisation.", d.Seed);
        var save = Flags.Make("save", "Output folder for the SimNets, log and summary.", d.Save);
        var logDir = Flags.Make("log_dir", "TensorBoard folder (scalars under {log_dir}/{name}).", d.LogDir);
        var workers = Flags.Make("workers", "Data loading threads (0: the number of cores).", d.Workers);
        var device = Flags.Make("device", "cpu, cuda, cuda:N or auto.", d.Device);
        var printFrequency = Flags.Make("print_frequency", "Log a training line every N steps of an epoch.", d.PrintFrequency);
        var resume = new Option<bool>("--resume") { Description = "Continue from {save}/{name}_Last.safetensors." };
        var strictImages = Flags.Make("strict_images", "Stop at an unreadable image instead of replacing it.", d.StrictImages);
        var precision = Flags.Make("precision", "fp32 (the authors'), bf16 or fp16: the forwards under LibTorch's autocast, the losses in fp32 (fp16 with a dynamic loss scaler).", d.Precision);

        var command = new Command("train-simnet", "Train the similarity network on pairs of clean base-class images (SimTrans step 1).")
        {
            name, baseDir, valSplit, valDir, webDir, pretrained, arch, imageSize, classesPerBatch, batchSize, epochs, lr, lrStep, wd,
            relationDim, adversarialWeight, itersPerEpoch, seed, save, logDir, workers, device, printFrequency, resume, strictImages, precision,
        };
        command.SetAction(parse =>
        {
            // Every flag is checked before any work starts, each with its own one-line error.
            string baseFolder = Flags.ExistingDirectory(parse.GetValue(baseDir), "base_dir");
            string? valFolder = parse.GetValue(valDir) is { } v ? Flags.ExistingDirectory(v, "val_dir") : null;
            double? split = parse.GetValue(valSplit);
            Flags.Require(split is null or (>= 0 and < 1), "val_split", "must be in [0, 1) (0: no validation)");
            Flags.Require(split is null or 0 || valFolder is null, "val_split", "and --val_dir are alternatives: give one validation set");
            double beta = parse.GetValue(adversarialWeight);
            Flags.Require(beta >= 0 && double.IsFinite(beta), "adversarial_weight", "must be 0 or more");
            string? webFolder = parse.GetValue(webDir) is { } w ? Flags.ExistingDirectory(w, "web_dir") : null;
            Flags.Require(webFolder is not null || beta == 0, "web_dir", "is required with --adversarial_weight > 0 (the novel web images whose pairs the discriminator tells from base pairs)");
            Flags.Require(webFolder is null || beta > 0, "web_dir", "is used only with --adversarial_weight > 0");
            string? weights = parse.GetValue(pretrained) is { } p ? Flags.ExistingFile(p, "pretrained") : null;
            string? archName = parse.GetValue(arch);
            Flags.Require(archName is null || ModelFactory.IsKnown(archName), "model_arch", $"unknown '{archName}'; known: {string.Join(", ", ModelFactory.Names)}");
            Flags.ImageSize(parse.GetValue(imageSize));
            int classes = parse.GetValue(classesPerBatch);
            Flags.Require(classes >= 2, "classes_per_batch", "must be at least 2 (a batch of one class has no dissimilar pairs)");
            Flags.Require(parse.GetValue(batchSize) >= classes, "batch_size", $"must be at least --classes_per_batch ({classes}): every chosen class needs an image");
            Flags.Require(parse.GetValue(epochs) >= 1, "epochs", "must be at least 1");
            Flags.Require(parse.GetValue(lr) > 0 && double.IsFinite(parse.GetValue(lr)), "lr", "must be a positive number");
            Flags.Require(parse.GetValue(lrStep) >= 1, "lr_step", "must be at least 1");
            Flags.Require(parse.GetValue(wd) >= 0 && double.IsFinite(parse.GetValue(wd)), "wd", "must be 0 or more");
            Flags.NotBlank(parse.GetValue(name), "name");
            Flags.NotBlank(parse.GetValue(save), "save");
            Flags.NotBlank(parse.GetValue(logDir), "log_dir");
            Flags.Require(parse.GetValue(relationDim) is null or >= 1, "relation_dim", "must be at least 1");
            Flags.Require(parse.GetValue(itersPerEpoch) is null or >= 1, "iters_per_epoch", "must be at least 1");
            Flags.Require(parse.GetValue(printFrequency) >= 1, "print_frequency", "must be at least 1");
            Flags.Require(parse.GetValue(workers) >= 0, "workers", "must be 0 (all cores) or more");
            DeviceSelection.Parse(parse.GetValue(device)!); // fails now, not after the data is scanned
            string arithmetic = Flags.Precision(parse.GetValue(precision));

            var options = new SimNetOptions
            {
                Name = parse.GetValue(name)!, BaseDir = baseFolder, ValSplit = split ?? (valFolder is null ? 0.1 : 0), ValDir = valFolder,
                WebDir = webFolder, Pretrained = weights, ModelArch = archName, ImageSize = parse.GetValue(imageSize), ClassesPerBatch = classes,
                BatchSize = parse.GetValue(batchSize), Epochs = parse.GetValue(epochs), Lr = parse.GetValue(lr), LrStep = parse.GetValue(lrStep),
                Wd = parse.GetValue(wd), RelationDim = parse.GetValue(relationDim), AdversarialWeight = beta, ItersPerEpoch = parse.GetValue(itersPerEpoch),
                Seed = parse.GetValue(seed), Save = parse.GetValue(save)!, LogDir = parse.GetValue(logDir)!, Workers = parse.GetValue(workers),
                Device = parse.GetValue(device)!, PrintFrequency = parse.GetValue(printFrequency), Resume = parse.GetValue(resume),
                StrictImages = parse.GetValue(strictImages), Precision = arithmetic,
            };
            return TrainingRun.Execute(options.Save, options.LogPath, options.Arguments(), (log, monitor, cancel) =>
            {
                var summary = new SimNetTrainer(options, log, monitor).Run(cancel);
                return new RunOutcome(summary.Interrupted,
                    summary.LastValidation is { } last
                        ? $"done: {summary.Epochs} epochs, best validation pair F1 {summary.BestF1:F4} at epoch {summary.BestEpoch} ({summary.BestCheckpoint}); " +
                          $"last F1 {last.F1:F4} (precision {last.Counts.Precision:F4}, recall {last.Counts.Recall:F4}); {summary.ImagesPerSecond:F1} images/s"
                        : $"done: {summary.Epochs} epochs, {summary.ImagesPerSecond:F1} images/s; SimNet {summary.LastCheckpoint}",
                    $"summary: {options.SummaryPath}");
            });
        });
        return command;
    }
}

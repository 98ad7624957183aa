using Serilog;
using Smile.Data;
using Smile.Weights;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>What a fine-tuning run would do, found by <see cref="FinetunePreflight.Inspect"/> without training or writing.</summary>
public sealed record FinetunePlan
{
    public required IReadOnlyList<string> Classes { get; init; }
    /// <summary>Training images per class, in class-index order (after a validation split, what is trained on).</summary>
    public required IReadOnlyList<int> TrainCounts { get; init; }
    /// <summary>Validation images (a folder's or the split's); null without validation data.</summary>
    public int? EvalImages { get; init; }
    /// <summary>Classes present in the validation images.</summary>
    public int EvalClasses { get; init; }
    public required int BatchesPerEpoch { get; init; }
    /// <summary>The iteration the run starts from (0, or after the _Last of --resume).</summary>
    public long StartIteration { get; init; }
    public required string Device { get; init; }
    public required string Architecture { get; init; }
    public required long Parameters { get; init; }
    public int? AuxClasses { get; init; }
    public IReadOnlyList<double>? ClassWeights { get; init; }
    /// <summary>Estimated sizes of the _Best file (student) and of the _Last file (student, optimizer state, mean teacher).</summary>
    public required long BestBytes { get; init; }
    public required long LastBytes { get; init; }
    /// <summary>Free space the checkpoints still need in the save folder: both files, plus one of them rewritten
    /// through a temporary beside it, less what existing files of the run already occupy.</summary>
    public required long NeededBytes { get; init; }
    /// <summary>Free space on the save folder's file system (of its nearest existing parent when it does not exist yet).</summary>
    public required long FreeBytes { get; init; }
    /// <summary>Images that could not be decoded while looking for one readable image per class, and folder warnings.</summary>
    public required IReadOnlyList<string> Warnings { get; init; }

    public int TrainImages => TrainCounts.Sum();
    public double Epochs(long iterations) => (double)iterations / BatchesPerEpoch;
}

/// <summary>
/// `--dry_run`: every check a fine-tuning run makes before its first step, made the same way (the folders and the
/// validation split, one decodable image per class, the batch size against the training images, the class weights, the
/// models built from the pre-trained file, the method's own inputs such as its teacher, the _Last of a resume), plus the
/// free space the checkpoints need. Nothing is trained and nothing is written: no folder is created.
/// </summary>
public static class FinetunePreflight
{
    /// <summary>Throws what the run would throw (<see cref="DataException"/>, <see cref="WeightFileException"/>, ...);
    /// <paramref name="method"/> is prepared (its teacher loaded) and stays the caller's.</summary>
    public static FinetunePlan Inspect(FinetuneOptions o, IRegularizer method, ILogger? log = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(method);
        log ??= Serilog.Core.Logger.None;
        var device = DeviceSelection.Parse(o.Device);
        var folder = o.TrainData.ForTraining();
        var warnings = new List<string>(folder.Warnings);
        var (train, eval) = ValidationSplit.Choose(folder, o.ValSplit, o.EvalData, o.Seed, log);
        if (eval is not null) warnings.AddRange(eval.Warnings);
        var spec = o.TrainTransform();
        // The training loader's own checks (a batch needs that many images); it starts no thread until asked for batches.
        var loader = new BatchLoader(train, spec, new LoaderOptions(o.BatchSize, o.Workers, o.Seed) { BalancedClasses = o.Sampler == "balanced" });
        EachClassReadable(train, spec.ResizeSize, warnings);
        if (eval is not null) EachClassReadable(eval, spec.ResizeSize, warnings);
        var classWeights = ClassLossWeights.Resolve(o.ClassWeights, train);

        using var models = ModelSetup.Create(o.ModelArch, train.Classes.Count, o.Pretrained, method.NeedsTeacher, device);
        FrozenParts.Apply(models.Student, o.Freeze); // an unknown prefix stops the dry run as it would the run
        method.Prepare(new MethodSetup(train, device, o.ImageSize, log) { Seed = o.Seed, MaxIters = o.MaxIters });
        long start = o.Resume ? ResumePoint(o, models.Student.Architecture, train.Classes) : 0;

        long student = StateBytes(models.Student), teacher = models.Teacher is null ? 0 : StateBytes(models.Teacher);
        long trainable = models.Student.parameters().Where(p => p.requires_grad).Sum(p => p.numel() * p.ElementSize);
        long optimizerState = o.Optimizer == "adam" ? 2 * trainable : trainable; // Adam's two moments; SGD's momentum
        long best = student, last = student + optimizerState + teacher;
        long existing = SizeOf(o.BestPath) + SizeOf(o.LastPath);
        return new FinetunePlan
        {
            Classes = train.Classes,
            TrainCounts = Enumerable.Range(0, train.Classes.Count).Select(train.CountOf).ToArray(),
            EvalImages = eval?.Samples.Count,
            EvalClasses = eval?.Samples.Select(s => s.Label).Distinct().Count() ?? 0,
            BatchesPerEpoch = loader.BatchesPerEpoch,
            StartIteration = start,
            Device = device.ToString(),
            Architecture = models.Student.Architecture,
            Parameters = models.Student.parameters().Sum(p => p.numel()),
            AuxClasses = models.Student.AuxClasses,
            ClassWeights = classWeights,
            BestBytes = best,
            LastBytes = last,
            NeededBytes = Math.Max(0, best + last + Math.Max(best, last) - existing),
            FreeBytes = FreeSpace(o.Save),
            Warnings = warnings,
        };
    }

    /// <summary>Free bytes on the file system of <paramref name="folder"/>, or of its nearest existing parent.</summary>
    public static long FreeSpace(string folder)
    {
        var path = Path.GetFullPath(folder);
        while (!Directory.Exists(path)) path = Path.GetDirectoryName(path) ?? throw new DataException($"{folder}: no existing parent folder");
        return new DriveInfo(path).AvailableFreeSpace;
    }

    /// <summary>Every class (of those present) has an image that decodes; the ones that do not are warnings.</summary>
    private static void EachClassReadable(ImageFolder data, int size, List<string> warnings)
    {
        foreach (var group in data.Samples.GroupBy(s => s.Label))
        {
            bool readable = false;
            foreach (var sample in group)
            {
                try
                {
                    ImageDecoder.Decode(sample.Path, size, size);
                    readable = true;
                    break;
                }
                catch (DataException e)
                {
                    warnings.Add($"unreadable image: {e.Message}");
                }
            }
            if (!readable)
                throw new DataException($"{Path.Combine(data.Root, data.Classes[group.Key])}: class '{data.Classes[group.Key]}' has no readable image ({group.Count()} tried)");
        }
    }

    /// <summary>The iteration a resumed run continues from, after the checks <see cref="FinetuneStrategy.Restore"/> makes on the header.</summary>
    private static long ResumePoint(FinetuneOptions o, string architecture, IReadOnlyList<string> classes)
    {
        var path = o.LastPath;
        if (!File.Exists(path)) throw new WeightFileException(path, "`resume`: no _Last checkpoint to continue from");
        var info = Checkpoint.ReadInfo(path);
        FinetuneStrategy.CheckResumable(path, info, architecture, classes);
        FinetuneStrategy.CheckSameFreeze(path, info, o.Freeze);
        return RunProgress.FromJson(info.RunState)?.StepsDone ?? info.Iteration + 1;
    }

    private static long StateBytes(nn.Module module) => module.state_dict().Values.Sum(t => t.numel() * t.ElementSize);

    private static long SizeOf(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;
}

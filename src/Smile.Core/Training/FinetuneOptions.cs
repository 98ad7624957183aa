using Smile.Data;
using Smile.Models;

namespace Smile.Training;

/// <summary>
/// One fine-tuning run: the reference's flags (finetune.py) and Smile's additions. The CLI validates them.
/// </summary>
public sealed record FinetuneOptions
{
    public string Name { get; init; } = "flower102";
    public required string TrainDir { get; init; }
    public string? EvalDir { get; init; }
    /// <summary>A list file instead of <see cref="TrainDir"/> (which is then ignored).</summary>
    public ImageListSource? TrainList { get; init; }
    /// <summary>A list file instead of <see cref="EvalDir"/>.</summary>
    public ImageListSource? EvalList { get; init; }
    /// <summary>The training set: the list when there is one, else the folder.</summary>
    public DatasetSource TrainData => TrainList ?? (DatasetSource)new FolderSource(TrainDir);
    /// <summary>The separate evaluation set, if any: the list when there is one, else the folder.</summary>
    public DatasetSource? EvalData => EvalList ?? (EvalDir is null ? null : (DatasetSource)new FolderSource(EvalDir));
    public string Save { get; init; } = "./output";
    public string LogDir { get; init; } = "./visual_log";
    public string ModelArch { get; init; } = "resnet50";
    public int ImageSize { get; init; } = 224;
    public int BatchSize { get; init; } = 48;
    public int BatchSizeEval { get; init; } = 8;
    public long MaxIters { get; init; } = 9000;
    public double Lr { get; init; } = 0.01;
    public double Wd { get; init; } = 1e-4;
    /// <summary>"sgd" (Nesterov momentum 0.9, the reference's) or "adam".</summary>
    public string Optimizer { get; init; } = "sgd";
    /// <summary>"step" (the reference's x0.1 at floor(2 * (max_iters + 1000) / 3)) or "constant".</summary>
    public string LrSchedule { get; init; } = "step";
    public string Regularizer { get; init; } = "smile";
    /// <summary>The values of the methods' own settings (each method declares them: <see cref="IRegularizer.Settings"/>).</summary>
    public MethodValues MethodSettings { get; init; } = MethodValues.Defaults;
    /// <summary>The classifier L2 weight every method adds.</summary>
    public double ClsLambda { get; init; } = 1e-4;
    /// <summary>The L2-SP strength; null: the method's default (<see cref="IRegularizer.DefaultL2spLambda"/>).</summary>
    public double? L2spLambda { get; init; }
    public int Seed { get; init; } = 2022;
    public int PrintFrequency { get; init; } = 50;
    public int EvalFrequency { get; init; } = 500;
    public string? Pretrained { get; init; }
    /// <summary>Fraction of each training class held out (seeded, stratified) for validation; 0: off, eval_dir is the validation set.</summary>
    public double ValSplit { get; init; }
    /// <summary>What picks the best checkpoint: "acc" (highest top-1, the reference) or "nll" (lowest NLL).</summary>
    public string SelectBy { get; init; } = "acc";
    /// <summary>Stop after this many evaluations without improvement of the selection metric; null: never.</summary>
    public int? EarlyStop { get; init; }
    public string Device { get; init; } = "cpu";

    /// <summary>fp32 (the reference's), bf16 or fp16: the step's arithmetic (<see cref="MixedPrecision"/>).</summary>
    public string Precision { get; init; } = "fp32";
    /// <summary>cuDNN autotuning, TF32 and channels-last batches (<see cref="CudaSpeed"/>).</summary>
    public CudaSpeed Speed { get; init; } = new();
    public int Workers { get; init; }
    public bool Resume { get; init; }
    public bool StrictImages { get; init; }
    /// <summary>Stop (writing _Last) once this many iterations are done, to split a long run into sessions; --resume continues.</summary>
    public long? StopAfter { get; init; }
    /// <summary>"random" (the reference's shuffled epochs) or "balanced" (every class drawn equally often, <see cref="Data.LoaderOptions.BalancedClasses"/>).</summary>
    public string Sampler { get; init; } = "random";
    /// <summary>Class weights of the label CE: null (none), "balanced", or a `class,weight` file (<see cref="ClassLossWeights"/>).</summary>
    public string? ClassWeights { get; init; }
    /// <summary>The backbone's learning rate as a fraction of <see cref="Lr"/> (the heads get Lr); 1: the reference's single
    /// rate; TLlib's --finetune: 0.1 (<see cref="ParameterGroups.LearningRateScale"/>).</summary>
    public double BackboneLrRatio { get; init; } = 1.0;
    /// <summary>Parameter-name prefixes of the student parts kept as loaded (<see cref="FrozenParts"/>); empty: none.</summary>
    public IReadOnlyList<string> Freeze { get; init; } = [];
    /// <summary>"resize_crop" (the reference's resize, flip and random crop) or "random_resized" (TLlib's
    /// RandomResizedCrop then flip, <see cref="RandomResizedCrop"/>).</summary>
    public string TrainCrop { get; init; } = "resize_crop";
    /// <summary>With random_resized: the smallest fraction of the image's area a crop covers (torchvision's 0.08; TLlib's 0.2).</summary>
    public double TrainCropMinScale { get; init; } = 0.08;

    /// <summary>The names <see cref="TrainCrop"/> takes.</summary>
    public static IReadOnlyList<string> TrainCrops { get; } = ["resize_crop", "random_resized"];

    /// <summary>The training transform of the run (<see cref="TrainCrop"/> applied).</summary>
    public TransformSpec TrainTransform() => TrainCrop switch
    {
        "resize_crop" => TransformSpec.ForTraining(ImageSize),
        "random_resized" => TransformSpec.ForTraining(ImageSize) with { RandomResized = new RandomResizedCrop(TrainCropMinScale) },
        _ => throw new ModelConfigException($"`train_crop`: unknown '{TrainCrop}'; known: {string.Join(", ", TrainCrops)}"),
    };

    /// <summary>The full argument set, in the reference's snake_case names, as stored in every checkpoint: the
    /// run's own and the method's settings (<paramref name="method"/>'s, with their values).</summary>
    public IReadOnlyDictionary<string, string> Arguments(IRegularizer method)
    {
        var c = System.Globalization.CultureInfo.InvariantCulture;
        var arguments = new Dictionary<string, string>
        {
            ["name"] = Name, ["train_dir"] = TrainDir, ["eval_dir"] = EvalDir ?? "", ["save"] = Save, ["log_dir"] = LogDir,
            ["model_arch"] = ModelArch, ["image_size"] = ImageSize.ToString(c), ["batch_size"] = BatchSize.ToString(c),
            ["batch_size_eval"] = BatchSizeEval.ToString(c), ["max_iters"] = MaxIters.ToString(c),
            ["lr"] = Lr.ToString("R", c), ["wd"] = Wd.ToString("R", c), ["cls_lambda"] = ClsLambda.ToString("R", c),
            ["l2sp_lambda"] = EffectiveL2spLambda(method).ToString("R", c), ["regularizer"] = Regularizer,
            ["seed"] = Seed.ToString(c), ["print_frequency"] = PrintFrequency.ToString(c), ["eval_frequency"] = EvalFrequency.ToString(c),
            ["pretrained"] = Pretrained ?? "", ["device"] = Device, ["workers"] = Workers.ToString(c), ["resume"] = Resume ? "true" : "false",
            ["strict_images"] = StrictImages ? "true" : "false", ["stop_after"] = StopAfter?.ToString(c) ?? "",
            ["optimizer"] = Optimizer, ["lr_schedule"] = LrSchedule, ["precision"] = Precision,
            ["val_split"] = ValSplit.ToString("R", c), ["select_by"] = SelectBy, ["early_stop"] = EarlyStop?.ToString(c) ?? "",
            ["sampler"] = Sampler, ["class_weights"] = ClassWeights ?? "",
            ["backbone_lr_ratio"] = BackboneLrRatio.ToString("R", c), ["freeze"] = string.Join(",", Freeze),
            ["train_crop"] = TrainCrop, ["train_crop_min_scale"] = TrainCropMinScale.ToString("R", c),
        };
        if (TrainList is not null || EvalList is not null)
        {
            var list = TrainList ?? EvalList!;
            arguments["train_list"] = TrainList?.ListFile ?? "";
            arguments["eval_list"] = EvalList?.ListFile ?? "";
            arguments["data_root"] = list.DataRoot ?? "";
            arguments["classes"] = list.ClassesFile ?? "";
        }
        foreach (var setting in method.Settings) arguments[setting.Name] = MethodSetting.Format(MethodSettings.ValueOf(setting));
        return arguments;
    }

    /// <summary>The L2-SP strength of the run: the one given, or the method's default.</summary>
    public double EffectiveL2spLambda(IRegularizer method) => L2spLambda ?? method.DefaultL2spLambda;

    public string RunName => $"{Name}_{Regularizer}";
    public string BestPath => Path.Combine(Save, $"{RunName}_Best.safetensors");
    public string LastPath => Path.Combine(Save, $"{RunName}_Last.safetensors");
    public string LogPath => Path.Combine(Save, $"{RunName}.txt");
    public string SummaryPath => Path.Combine(Save, $"{RunName}_summary.json");
    /// <summary>The run's complete settings, written before training (the CLI's `--config` reads them back).</summary>
    public string ConfigPath => Path.Combine(Save, $"{RunName}_config.json");
    public string TensorBoardDir => Path.Combine(LogDir, Regularizer);
}

using System.Globalization;

namespace Smile.WeakShot;

/// <summary>
/// One SimNet training run (`smile simtrans train-simnet`; docs/METHODS.md, "SimNet" and "Adversarial
/// option"). Defaults are the paper's: 20 classes x 50 images per batch, SGD momentum 0.9 (plain, as
/// torch.optim.SGD), wd 1e-4, lr 5e-3 halved every 25 epochs, 50 epochs. The CLI validates the values.
/// </summary>
public sealed record SimNetOptions
{
    public string Name { get; init; } = "simnet";
    /// <summary>Clean base classes (ImageFolder).</summary>
    public required string BaseDir { get; init; }
    /// <summary>Fraction of every base class held out (seeded, stratified) for the pair F1; 0 with no
    /// <see cref="ValDir"/>: no validation, the last SimNet is the result.</summary>
    public double ValSplit { get; init; } = 0.1;
    /// <summary>A held-out ImageFolder of the base classes, instead of <see cref="ValSplit"/>.</summary>
    public string? ValDir { get; init; }
    /// <summary>Noisy novel-class web images (ImageFolder); the discriminator's second domain when β > 0.</summary>
    public string? WebDir { get; init; }
    /// <summary>A Smile classifier checkpoint of the base classes (`smile finetune`), or a plain state dict;
    /// null: the backbone starts from random initialisation.</summary>
    public string? Pretrained { get; init; }
    /// <summary>null: the checkpoint's architecture (resnet50 for a plain state dict or none).</summary>
    public string? ModelArch { get; init; }
    public int ImageSize { get; init; } = 224;
    public int ClassesPerBatch { get; init; } = 20;
    public int BatchSize { get; init; } = 50;
    public int Epochs { get; init; } = 50;
    public double Lr { get; init; } = 5e-3;
    /// <summary>The rate is multiplied by <see cref="LrDecay"/> every this many epochs.</summary>
    public int LrStep { get; init; } = 25;
    public double LrDecay { get; init; } = 0.5;
    public double Momentum { get; init; } = 0.9;
    public double Wd { get; init; } = 1e-4;
    /// <summary>Width D' of the relation feature; null: the backbone's feature width.</summary>
    public int? RelationDim { get; init; }
    /// <summary>β of L_sim − β·L_D; 0: no discriminator.</summary>
    public double AdversarialWeight { get; init; }
    /// <summary>The discriminator's own SGD rate (decayed with the SimNet's schedule, as the authors' script does).</summary>
    public double DiscriminatorLr { get; init; } = 5e-3;
    /// <summary>null: base training images / batch size (at least 1).</summary>
    public int? ItersPerEpoch { get; init; }
    public int Seed { get; init; } = 2022;
    public string Save { get; init; } = "./output";
    public string LogDir { get; init; } = "./visual_log";
    public int Workers { get; init; }
    public string Device { get; init; } = "cpu";
    public int PrintFrequency { get; init; } = 10;
    public bool Resume { get; init; }
    public bool StrictImages { get; init; }
    /// <summary>fp32 (the authors'), bf16 or fp16: the forwards under autocast, the losses in fp32 (<see cref="Training.MixedPrecision"/>).</summary>
    public string Precision { get; init; } = "fp32";

    public bool Adversarial => AdversarialWeight > 0;

    /// <summary>The rate of a 0-based epoch: lr · decay^floor(epoch / lr_step).</summary>
    public double LearningRateAt(int epoch) => Lr * Math.Pow(LrDecay, epoch / LrStep);

    public string BestPath => Path.Combine(Save, $"{Name}_Best.safetensors");
    public string LastPath => Path.Combine(Save, $"{Name}_Last.safetensors");
    public string LogPath => Path.Combine(Save, $"{Name}.txt");
    public string SummaryPath => Path.Combine(Save, $"{Name}_summary.json");
    public string TensorBoardDir => Path.Combine(LogDir, Name);

    /// <summary>The full argument set in snake_case, as stored in every SimNet checkpoint (β included).</summary>
    public IReadOnlyDictionary<string, string> Arguments()
    {
        var c = CultureInfo.InvariantCulture;
        return new Dictionary<string, string>
        {
            ["name"] = Name, ["base_dir"] = BaseDir, ["val_split"] = ValSplit.ToString("R", c), ["val_dir"] = ValDir ?? "",
            ["web_dir"] = WebDir ?? "", ["pretrained"] = Pretrained ?? "", ["model_arch"] = ModelArch ?? "",
            ["image_size"] = ImageSize.ToString(c), ["classes_per_batch"] = ClassesPerBatch.ToString(c), ["batch_size"] = BatchSize.ToString(c),
            ["epochs"] = Epochs.ToString(c), ["lr"] = Lr.ToString("R", c), ["lr_step"] = LrStep.ToString(c), ["lr_decay"] = LrDecay.ToString("R", c),
            ["momentum"] = Momentum.ToString("R", c), ["wd"] = Wd.ToString("R", c), ["relation_dim"] = RelationDim?.ToString(c) ?? "",
            ["adversarial_weight"] = AdversarialWeight.ToString("R", c), ["discriminator_lr"] = DiscriminatorLr.ToString("R", c),
            ["iters_per_epoch"] = ItersPerEpoch?.ToString(c) ?? "", ["seed"] = Seed.ToString(c), ["save"] = Save, ["log_dir"] = LogDir,
            ["workers"] = Workers.ToString(c), ["device"] = Device, ["print_frequency"] = PrintFrequency.ToString(c),
            ["resume"] = Resume ? "true" : "false", ["strict_images"] = StrictImages ? "true" : "false", ["precision"] = Precision,
        };
    }
}

/// <summary>The held-out pair metrics of one epoch (see <see cref="SimNetValidation"/>).</summary>
public sealed record PairValidationResult(double Loss, PairCounts Counts, double Seconds)
{
    public double F1 => Counts.F1;
}

/// <summary>The end of a SimNet run: what {name}_summary.json holds. <see cref="Kind"/> tells it from a
/// classifier run's summary in the same folder.</summary>
public sealed record SimNetSummary(string Name, string Architecture, int Epochs, int StartEpoch, double BestF1, int BestEpoch,
    PairValidationResult? LastValidation, double AdversarialWeight, double Seconds, double ImagesPerSecond, int BadImages,
    string? BestCheckpoint, string LastCheckpoint, bool Interrupted)
{
    public string Kind => "simnet";
}

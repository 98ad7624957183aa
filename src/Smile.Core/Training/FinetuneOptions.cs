namespace Smile.Training;

/// <summary>
/// One fine-tuning run: the reference's flags (finetune.py) and Smile's additions. The CLI validates them.
/// </summary>
public sealed record FinetuneOptions
{
    public string Name { get; init; } = "flower102";
    public required string TrainDir { get; init; }
    public string? EvalDir { get; init; }
    public string Save { get; init; } = "./output";
    public string LogDir { get; init; } = "./visual_log";
    public string ModelArch { get; init; } = "resnet50";
    public int ImageSize { get; init; } = 224;
    public int BatchSize { get; init; } = 48;
    public int BatchSizeEval { get; init; } = 8;
    public long MaxIters { get; init; } = 9000;
    /// <summary>SMILE's final plain (l2) iterations; the reference hard-codes 1000.</summary>
    public long PlainIters { get; init; } = 1000;
    public double Lr { get; init; } = 0.01;
    public double Wd { get; init; } = 1e-4;
    /// <summary>"sgd" (Nesterov momentum 0.9, the reference's) or "adam".</summary>
    public string Optimizer { get; init; } = "sgd";
    /// <summary>"step" (the reference's x0.1 at floor(2 * (max_iters + 1000) / 3)) or "constant".</summary>
    public string LrSchedule { get; init; } = "step";
    public string Regularizer { get; init; } = "smile";
    public RegularizerOptions Regularization { get; init; } = new();
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
    /// <summary>Checkpoints of the extra frozen networks the regularizer needs, by role (ILS: "ils_teacher").</summary>
    public IReadOnlyDictionary<string, string> FrozenNetworkFiles { get; init; } = new Dictionary<string, string>();
    /// <summary>SimTrans's per-image weights (path,class,weight CSV of `smile simtrans weights`); null: every weight 1.</summary>
    public string? SampleWeights { get; init; }
    /// <summary>The SimNet checkpoint whose similarities drive --graph_reg.</summary>
    public string? SimNet { get; init; }
    public string Device { get; init; } = "cpu";
    public int Workers { get; init; }
    public bool Resume { get; init; }
    public bool StrictImages { get; init; }
    /// <summary>Stop (writing _Last) once this many iterations are done, to split a long run into sessions; --resume continues.</summary>
    public long? StopAfter { get; init; }
    /// <summary>The full argument set, in the reference's snake_case names, as stored in every checkpoint.</summary>
    public IReadOnlyDictionary<string, string> Arguments()
    {
        var c = System.Globalization.CultureInfo.InvariantCulture;
        var r = Regularization;
        return new Dictionary<string, string>
        {
            ["name"] = Name, ["train_dir"] = TrainDir, ["eval_dir"] = EvalDir ?? "", ["save"] = Save, ["log_dir"] = LogDir,
            ["model_arch"] = ModelArch, ["image_size"] = ImageSize.ToString(c), ["batch_size"] = BatchSize.ToString(c),
            ["batch_size_eval"] = BatchSizeEval.ToString(c), ["max_iters"] = MaxIters.ToString(c), ["plain_iters"] = PlainIters.ToString(c),
            ["lr"] = Lr.ToString("R", c), ["wd"] = Wd.ToString("R", c), ["alpha"] = r.Alpha.ToString("R", c),
            ["reg_lambda"] = r.RegLambda.ToString("R", c), ["aux_lambda"] = r.AuxLambda.ToString("R", c), ["cls_lambda"] = r.ClsLambda.ToString("R", c),
            ["ema_decay"] = r.EmaDecay.ToString("R", c), ["l2sp_lambda"] = r.L2spLambda.ToString("R", c), ["regularizer"] = Regularizer,
            ["seed"] = Seed.ToString(c), ["print_frequency"] = PrintFrequency.ToString(c), ["eval_frequency"] = EvalFrequency.ToString(c),
            ["pretrained"] = Pretrained ?? "", ["device"] = Device, ["workers"] = Workers.ToString(c), ["resume"] = Resume ? "true" : "false",
            ["strict_images"] = StrictImages ? "true" : "false", ["stop_after"] = StopAfter?.ToString(c) ?? "",
            ["optimizer"] = Optimizer, ["lr_schedule"] = LrSchedule,
            ["kd_temperature"] = r.KdTemperature.ToString("R", c), ["kd_alpha"] = r.KdAlpha.ToString("R", c),
            ["teacher"] = FrozenNetworkFiles.TryGetValue(DistillationRegularizer.TeacherRole, out var kt) ? kt : "",
            ["val_split"] = ValSplit.ToString("R", c), ["select_by"] = SelectBy, ["early_stop"] = EarlyStop?.ToString(c) ?? "",
            ["smoothing"] = r.Smoothing.ToString("R", c), ["ils_temperature"] = r.IlsTemperature.ToString("R", c),
            ["sample_weights"] = SampleWeights ?? "", ["simnet"] = SimNet ?? "", ["graph_reg"] = r.GraphReg.ToString("R", c),
            ["graph_mu"] = r.GraphMu.ToString("R", c), ["graph_reg_alternate"] = r.GraphRegAlternate ? "true" : "false",
            ["ils_teacher"] = FrozenNetworkFiles.TryGetValue(InstanceLabelSmoothingRegularizer.TeacherRole, out var t) ? t : "",
        };
    }

    public string RunName => $"{Name}_{Regularizer}";
    public string BestPath => Path.Combine(Save, $"{RunName}_Best.safetensors");
    public string LastPath => Path.Combine(Save, $"{RunName}_Last.safetensors");
    public string LogPath => Path.Combine(Save, $"{RunName}.txt");
    public string SummaryPath => Path.Combine(Save, $"{RunName}_summary.json");
    public string TensorBoardDir => Path.Combine(LogDir, Regularizer);
}

using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// Knowledge distillation (Hinton, Vinyals, Dean 2015), as the ILS paper's distillation experiment uses it
/// (docs/METHODS.md, "Distillation"): "kd" = alpha T^2 KL(softmax(z_t / T) || softmax(z_s / T)) and "main" =
/// (1 - alpha) CE(z_s, y). The KL is summed over classes and averaged over the batch (the mathematical KL,
/// PyTorch's reduction="batchmean"); the authors' code uses PyTorch's element-wise mean, which also divides
/// by the number of classes K: multiply --kd_alpha's effect accordingly when comparing. The teacher
/// (its setting teacher) runs in eval mode without gradient on the student's own batch.
/// </summary>
public sealed class DistillationRegularizer : IRegularizer
{
    private static readonly MethodSetting<string?> TeacherSetting = new("teacher",
        "The teacher checkpoint (trained on the same classes).", null,
        MethodSetting<string?>.ExistingFile) { OnlyForItsMethods = true };
    private static readonly MethodSetting<double> TemperatureSetting = new("kd_temperature",
        "Distillation temperature T.", 20.0, MethodSetting<double>.Positive);
    private static readonly MethodSetting<double> AlphaSetting = new("kd_alpha",
        "Weight of the distillation term (1 - alpha on the labels' CE).", 0.9, v => v is >= 0 and <= 1 ? null : "must be in [0, 1]");

    private string teacherPath = "";
    private double temperature = TemperatureSetting.Default, alpha = AlphaSetting.Default;
    private Evaluation.TrainedModel? teacher;

    public string Name => "kd";
    public string Summary => "Knowledge distillation (Hinton): T^2-scaled KL to a teacher's softened outputs plus CE on the labels.";
    public bool Capturable => true;
    public IReadOnlyList<MethodSetting> Settings => [TeacherSetting, TemperatureSetting, AlphaSetting];

    public void Configure(MethodValues values)
    {
        var path = values.Get(TeacherSetting);
        teacherPath = path ?? throw new MethodSettingException(TeacherSetting.Name, "the kd method needs the teacher checkpoint to distil");
        temperature = values.Get(TemperatureSetting);
        alpha = values.Get(AlphaSetting);
    }

    public void Prepare(MethodSetup setup) =>
        teacher = FrozenClassifier.Load(teacherPath, TeacherSetting.Name, setup.Train.Classes, setup.Device);

    public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var (images, labels) = (batch.Images, batch.Labels);
        ArgumentNullException.ThrowIfNull(ctx);
        var network = teacher?.Model ?? throw new InvalidOperationException("the kd method's teacher is not loaded (call Prepare)");
        using var scope = NewDisposeScope();
        double t = temperature;
        Tensor teacherProbabilities;
        using (no_grad()) teacherProbabilities = network.call(images).Logits.DividedBy(t).softmax(1);
        var logits = ctx.Student.call(images).Logits;
        var terms = new List<(string, Tensor)>
        {
            ("main", LossTerms.CrossEntropy(ctx, logits, labels).Times(1 - alpha)),
            ("kd", KlDivergence(teacherProbabilities, logits.DividedBy(t)).Times(alpha * t * t)),
            ("cls", LossTerms.ClassifierL2(ctx).Times(ctx.Options.ClsLambda)),
        };
        L2SpTerm.AddIfEnabled(ctx, terms);
        return LossTerms.Finish(terms, LossTerms.Accuracy(logits, labels));
    }

    /// <summary>KL(p || softmax(z)) summed over classes, averaged over the batch; 0 log 0 = 0.</summary>
    internal static Tensor KlDivergence(Tensor p, Tensor studentLogits)
    {
        using Scalar tiny = 1e-30;
        return (p * (p.clamp_min(tiny).log() - studentLogits.log_softmax(1))).sum(1).mean();
    }

    public void Dispose() => teacher?.Dispose();
}

using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// Instance-based label smoothing (Maher and Kull, ICMLA 2021; docs/METHODS.md, "Label smoothing: ls and ils"): the eps of label
/// smoothing is spread over the wrong classes in proportion to a CE-trained teacher's probabilities at
/// temperature T, so that similar classes keep their similarity. The teacher (a checkpoint of the same
/// task, its setting ils_teacher) runs in eval mode, without gradient, on the student's own augmented batch.
/// </summary>
public sealed class InstanceLabelSmoothingRegularizer : IRegularizer
{
    private static readonly MethodSetting<string?> TeacherSetting = new("ils_teacher",
        "A checkpoint of this task trained with plain CE (the l2 method, say).", null,
        MethodSetting<string?>.ExistingFile) { OnlyForItsMethods = true };
    private static readonly MethodSetting<double> TemperatureSetting = new("ils_temperature",
        "Temperature of the teacher's softmax.", 1.0, MethodSetting<double>.Positive);

    private string teacherPath = "";
    private double smoothing = SmoothedTargets.Smoothing.Default, temperature = TemperatureSetting.Default;
    private Evaluation.TrainedModel? teacher;

    public string Name => "ils";
    public string Summary => "Instance-based label smoothing: eps spread over the wrong classes by a CE-trained teacher's probabilities.";
    public IReadOnlyList<MethodSetting> Settings => [SmoothedTargets.Smoothing, TeacherSetting, TemperatureSetting];

    public void Configure(MethodValues values)
    {
        var path = values.Get(TeacherSetting);
        teacherPath = path ?? throw new MethodSettingException(TeacherSetting.Name, "the ils method needs a checkpoint of this task trained with plain CE");
        smoothing = values.Get(SmoothedTargets.Smoothing);
        temperature = values.Get(TemperatureSetting);
    }

    public void Prepare(MethodSetup setup) =>
        teacher = FrozenClassifier.Load(teacherPath, TeacherSetting.Name, setup.Train.Classes, setup.Device);

    public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var (images, labels) = (batch.Images, batch.Labels);
        ArgumentNullException.ThrowIfNull(ctx);
        var network = teacher?.Model ?? throw new InvalidOperationException("the ils method's teacher is not loaded (call Prepare)");
        using var scope = NewDisposeScope();
        Tensor teacherLogits;
        using (no_grad()) teacherLogits = network.call(images).Logits;
        var target = SmoothedTargets.Instance(teacherLogits, labels, smoothing, temperature);
        var logits = ctx.Student.call(images).Logits;
        return LossTerms.SoftTargetLoss(ctx, logits, target, labels);
    }

    public void Dispose() => teacher?.Dispose();
}

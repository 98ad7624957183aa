using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// Instance-based label smoothing (Maher and Kull, ICMLA 2021; docs/METHODS.md, "Label smoothing: ls and ils"): the eps of label
/// smoothing is spread over the wrong classes in proportion to a CE-trained teacher's probabilities at
/// temperature T, so that similar classes keep their similarity. The teacher (a checkpoint of the same
/// task, <see cref="TeacherRole"/> in <see cref="TrainingContext.FrozenNetworks"/>) runs in eval mode,
/// without gradient, on the student's own augmented batch.
/// </summary>
public sealed class InstanceLabelSmoothingRegularizer : IRegularizer
{
    public const string TeacherRole = "ils_teacher";

    public string Name => "ils";
    public bool NeedsTeacher => false;
    public bool UsesMixup => false;
    public IReadOnlyList<string> FrozenNetworks => [TeacherRole];

    public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var (images, labels) = (batch.Images, batch.Labels);
        ArgumentNullException.ThrowIfNull(ctx);
        var teacher = LossTerms.FrozenNetwork(ctx, TeacherRole, Name);
        using var scope = NewDisposeScope();
        Tensor teacherLogits;
        using (no_grad()) teacherLogits = teacher.call(images).Logits;
        var target = SmoothedTargets.Instance(teacherLogits, labels, ctx.Options.Smoothing, ctx.Options.IlsTemperature);
        var logits = ctx.Student.call(images).Logits;
        return LossTerms.SoftTargetLoss(ctx, logits, target, labels);
    }

    public bool WeightDecayApplies(string parameterName) => true;

    public void AfterStep(TrainingContext ctx, long iteration) { }
}

using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// Instance-based label smoothing (Maher and Kull, ICMLA 2021; METHODS.md section 1): the eps of label
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

    public StepLosses Loss(TrainingContext ctx, Tensor images, Tensor labels, MixPlan? mix)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        if (!ctx.FrozenNetworks.TryGetValue(TeacherRole, out var teacher))
            throw new InvalidOperationException("instance-based label smoothing needs its teacher network (--ils_teacher)");
        using var scope = NewDisposeScope();
        Tensor teacherLogits;
        using (no_grad()) teacherLogits = teacher.call(images).Logits;
        var target = SmoothedTargets.Instance(teacherLogits, labels, ctx.Options.Smoothing, ctx.Options.IlsTemperature);
        var logits = ctx.Student.call(images).Logits;
        var terms = new List<(string, Tensor)>
        {
            ("main", LossTerms.SoftCrossEntropy(logits, target)),
            ("cls", LossTerms.ClassifierL2(ctx) * ctx.Options.ClsLambda),
        };
        L2SpTerm.AddIfEnabled(ctx, terms);
        return LossTerms.Finish(terms, LossTerms.Accuracy(logits, labels));
    }

    public bool WeightDecayApplies(string parameterName) => true;

    public void AfterStep(TrainingContext ctx, long iteration) { }
}

using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// Knowledge distillation (Hinton, Vinyals, Dean 2015), as the ILS paper's distillation experiment uses it
/// (docs/METHODS.md, "Distillation"): "kd" = alpha T^2 KL(softmax(z_t / T) || softmax(z_s / T)) and "main" =
/// (1 - alpha) CE(z_s, y). The KL is summed over classes and averaged over the batch (the mathematical KL,
/// PyTorch's reduction="batchmean"); the authors' code uses PyTorch's element-wise mean, which also divides
/// by the number of classes K: multiply --kd_alpha's effect accordingly when comparing. The teacher
/// (<see cref="TeacherRole"/>) runs in eval mode without gradient on the student's own batch.
/// </summary>
public sealed class DistillationRegularizer : IRegularizer
{
    public const string TeacherRole = "teacher";

    public string Name => "kd";
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
        double t = ctx.Options.KdTemperature, alpha = ctx.Options.KdAlpha;
        Tensor teacherProbabilities;
        using (no_grad()) teacherProbabilities = (teacher.call(images).Logits / t).softmax(1);
        var logits = ctx.Student.call(images).Logits;
        var terms = new List<(string, Tensor)>
        {
            ("main", nn.functional.cross_entropy(logits, labels) * (1 - alpha)),
            ("kd", KlDivergence(teacherProbabilities, logits / t) * (alpha * t * t)),
            ("cls", LossTerms.ClassifierL2(ctx) * ctx.Options.ClsLambda),
        };
        L2SpTerm.AddIfEnabled(ctx, terms);
        return LossTerms.Finish(terms, LossTerms.Accuracy(logits, labels));
    }

    /// <summary>KL(p || softmax(z)) summed over classes, averaged over the batch; 0 log 0 = 0.</summary>
    internal static Tensor KlDivergence(Tensor p, Tensor studentLogits) =>
        (p * (p.clamp_min(1e-30).log() - studentLogits.log_softmax(1))).sum(1).mean();

    public bool WeightDecayApplies(string parameterName) => true;

    public void AfterStep(TrainingContext ctx, long iteration) { }
}

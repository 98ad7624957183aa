using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// Learning without Forgetting (Li and Hoiem 2016), in TLlib's formulation (docs/METHODS.md, "LwF"): the new head
/// learns the labels while the kept source head (aux_fc, initialised from the pre-trained file's classifier) on the
/// same pooled features keeps the source network's old-task outputs:
/// "main" = CE(fc(f), y) and "lwf" = lwf_lambda * KL(softmax(z_src / T) || softmax(aux_fc(f) / T)), the KL summed
/// over the source classes and averaged over the batch, without a T² factor (TLlib's KnowledgeDistillationLoss).
/// z_src are the frozen pre-trained network's logits (eval mode, no gradient) on the student's own batch; TLlib
/// records them once before training instead, which docs/METHODS.md compares. The defaults (lwf_lambda 4,
/// lwf_temperature 3) are TLlib's, as docs/METHODS.md cites them. Both heads are trained; only fc is evaluated.
/// </summary>
public sealed class LwfRegularizer : IRegularizer
{
    private static readonly MethodSetting<double> LambdaSetting = new("lwf_lambda",
        "LwF: weight of the distillation of the source network's outputs into the kept source head (4, TLlib's).", 4.0,
        MethodSetting<double>.NonNegative) { OnlyForItsMethods = true };

    private static readonly MethodSetting<double> TemperatureSetting = new("lwf_temperature",
        "LwF: distillation temperature T (3, TLlib's).", 3.0,
        MethodSetting<double>.Positive) { OnlyForItsMethods = true };

    public string Name => "lwf";
    public string Summary => "Learning without Forgetting: CE on the new head plus lwf_lambda * KL from the frozen source network's softened outputs to the kept source head.";
    public IReadOnlyList<MethodSetting> Settings => [LambdaSetting, TemperatureSetting];

    /// <summary>The frozen pre-trained network provides the old-task targets.</summary>
    public bool NeedsTeacher => true;

    public double Lambda { get; private set; } = LambdaSetting.Default;
    public double Temperature { get; private set; } = TemperatureSetting.Default;

    public void Configure(MethodValues values)
    {
        ArgumentNullException.ThrowIfNull(values);
        Lambda = values.Get(LambdaSetting);
        Temperature = values.Get(TemperatureSetting);
    }

    public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(batch);
        using var scope = NewDisposeScope();
        var student = ctx.Student.call(batch.Images);
        var oldTask = student.AuxLogits
            ?? throw new InvalidOperationException("the lwf method needs a student with the source head (aux_fc): give the pre-trained weights");
        Tensor sourceProbabilities;
        using (no_grad()) sourceProbabilities = ctx.TeacherForward(batch.Images).Logits.DividedBy(Temperature).softmax(1);
        if (oldTask.shape[1] != sourceProbabilities.shape[1])
            throw new InvalidOperationException($"the student's source head has {oldTask.shape[1]} outputs but the source network {sourceProbabilities.shape[1]}");
        var terms = new List<(string, Tensor)>
        {
            ("main", LossTerms.CrossEntropy(ctx, student.Logits, batch.Labels)),
            ("lwf", DistillationRegularizer.KlDivergence(sourceProbabilities, oldTask.DividedBy(Temperature)).Times(Lambda)),
            ("cls", LossTerms.ClassifierL2(ctx).Times(ctx.Options.ClsLambda)),
        };
        L2SpTerm.AddIfEnabled(ctx, terms);
        return LossTerms.Finish(terms, LossTerms.Accuracy(student.Logits, batch.Labels));
    }
}

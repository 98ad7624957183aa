using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// SMILE, Self-Distilled Mixup (Li et al. 2022), as docs/DESIGN.md, "The SMILE step", states it: label mixup, the
/// aux head distilled from the teacher's mixed softmax, the student's feature map of the mixed images pulled
/// towards the mix of the teacher's feature maps of the clean images, and a mean teacher.
/// </summary>
public sealed class SmileRegularizer : IRegularizer
{
    private static readonly MethodSetting<double> AuxLambdaSetting = new("aux_lambda", "Weight of SMILE's aux-head distillation.", 0.1, MethodSetting<double>.NonNegative);
    private static readonly MethodSetting<double> RegLambdaSetting = new("reg_lambda", "Weight of SMILE's feature-mixup distillation.", 0.01, MethodSetting<double>.NonNegative);
    private static readonly MethodSetting<double> EmaDecaySetting = new("ema_decay", "Mean-teacher decay (>= 1 turns the EMA off).", 0.999,
        v => v >= 0 && double.IsFinite(v) ? null : "must be 0 or more (>= 1 turns the EMA off)");
    private static readonly MethodSetting<long> PlainItersSetting = new("plain_iters", "SMILE's final plain (l2) iterations (the reference's fixed 1000).", 1000L,
        v => v >= 0 ? null : "must be 0 or more");

    private readonly L2Regularizer plain = new();

    public string Name => "smile";
    public string Summary => "Self-distilled mixup: mixup, aux-head and feature distillation from a mean teacher, plain final iterations.";
    public bool NeedsTeacher => true;
    public bool UsesMixup => true;
    public bool Capturable => true;
    public IReadOnlyList<MethodSetting> Settings => [MixPlan.Alpha, AuxLambdaSetting, RegLambdaSetting, EmaDecaySetting, PlainItersSetting];

    public double Alpha { get; private set; } = MixPlan.Alpha.Default;
    public double AuxLambda { get; private set; } = AuxLambdaSetting.Default;
    public double RegLambda { get; private set; } = RegLambdaSetting.Default;
    public double EmaDecay { get; private set; } = EmaDecaySetting.Default;
    public long PlainIters { get; private set; } = PlainItersSetting.Default;

    public void Configure(MethodValues values)
    {
        Alpha = values.Get(MixPlan.Alpha);
        AuxLambda = values.Get(AuxLambdaSetting);
        RegLambda = values.Get(RegLambdaSetting);
        EmaDecay = values.Get(EmaDecaySetting);
        PlainIters = values.Get(PlainItersSetting);
    }

    public MixPlan? DrawMix(Random random, int batchSize) => MixPlan.Draw(random, Alpha, batchSize);

    /// <summary>The last <see cref="PlainIters"/> iterations train with the plain l2 loss, as the reference does.</summary>
    public IRegularizer ForIteration(long iteration, long maxIters) => iteration >= maxIters - PlainIters ? plain : this;

    public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var (images, labels) = (batch.Images, batch.Labels);
        ArgumentNullException.ThrowIfNull(ctx);
        if (ctx.Teacher is null) throw new InvalidOperationException("the smile regularizer needs a teacher (the pre-trained source model)");
        if (mix is null) throw new ArgumentNullException(nameof(mix), "the smile regularizer mixes its batch: pass a MixPlan");
        using var scope = NewDisposeScope();
        var timer = ctx.Timer;
        // lam, 1 - lam and the permutation as device tensors: the step reads no host number (Training/MixWeights.cs).
        var weights = mix.On(images);
        var mixed = LossTerms.Mix(images, weights);
        timer?.Mark(StepStage.Mixup);

        var student = ctx.Student.call(mixed);
        var auxMix = student.AuxLogits
            ?? throw new InvalidOperationException("the smile regularizer needs a student with an aux head (aux_fc, the source classifier's shape)");
        timer?.Mark(StepStage.StudentForward);

        // The teacher sees the clean images, in eval mode (its BatchNorm statistics stay the source's), and
        // only provides targets: no graph is built through it.
        Tensor softTargets, featureTarget;
        using (no_grad())
        {
            var source = ctx.TeacherForward(images);
            timer?.Mark(StepStage.TeacherForward);
            softTargets = source.Logits.softmax(1);
            featureTarget = LossTerms.Mix(source.Features, weights);
            timer?.Mark(StepStage.TeacherTargets);
        }
        if (auxMix.shape[1] != softTargets.shape[1])
            throw new InvalidOperationException($"the student's aux head has {auxMix.shape[1]} outputs but the teacher's classifier has {softTargets.shape[1]}");
        if (!student.Features.shape.SequenceEqual(featureTarget.shape))
            throw new InvalidOperationException($"student features [{string.Join(", ", student.Features.shape)}] and teacher features [{string.Join(", ", featureTarget.shape)}] differ in shape");

        var main = LossTerms.MixedCrossEntropy(ctx, student.Logits, labels, weights);
        timer?.Mark(StepStage.MainCe);
        // CE against lam * q + (1 - lam) * q[p], written as the two CEs (it is linear in the target).
        var aux = (LossTerms.SoftCrossEntropy(auxMix, softTargets) * weights.Keep)
            .Plus(LossTerms.SoftCrossEntropy(auxMix, softTargets.index_select(0, weights.Permutation)) * weights.Rest).Times(AuxLambda);
        timer?.Mark(StepStage.AuxCe);
        // The Frobenius norm of the whole N x C x H x W difference, not squared, divided by H * W.
        long spatial = student.Features.shape[2] * student.Features.shape[3];
        var reg = (featureTarget - student.Features).norm().DividedBy(spatial).Times(RegLambda);
        timer?.Mark(StepStage.FeatureReg);
        var cls = LossTerms.ClassifierL2(ctx).Times(ctx.Options.ClsLambda);
        timer?.Mark(StepStage.ClsL2);

        var terms = new List<(string, Tensor)> { ("main", main), ("aux", aux), ("reg", reg), ("cls", cls) };
        L2SpTerm.AddIfEnabled(ctx, terms);
        var accuracy = LossTerms.MixedAccuracy(student.Logits, labels, weights);
        timer?.Mark(StepStage.Accuracy);
        return LossTerms.Finish(terms, accuracy);
    }

    /// <summary>The mean teacher moves towards the student every 10th iteration (0, 10, 20, ...), after the step.</summary>
    public void AfterStep(TrainingContext ctx, long iteration)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        if (EmaDecay >= 1 || iteration % 10 != 0) return;
        var teacher = ctx.Teacher ?? throw new InvalidOperationException("the smile regularizer needs a teacher (the pre-trained source model)");
        MeanTeacher.Update(teacher, ctx.Student, EmaDecay);
        ctx.TeacherChanged();
    }
}

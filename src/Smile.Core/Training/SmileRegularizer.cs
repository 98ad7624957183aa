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
    public string Name => "smile";
    public bool NeedsTeacher => true;
    public bool UsesMixup => true;

    public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var (images, labels) = (batch.Images, batch.Labels);
        ArgumentNullException.ThrowIfNull(ctx);
        if (ctx.Teacher is null) throw new InvalidOperationException("the smile regularizer needs a teacher (the pre-trained source model)");
        if (mix is null) throw new ArgumentNullException(nameof(mix), "the smile regularizer mixes its batch: pass a MixPlan");
        double lam = mix.Lambda;

        using var scope = NewDisposeScope();
        var permutation = LossTerms.PermutationIndex(mix, images);

        var student = ctx.Student.call(LossTerms.Mix(images, lam, permutation));
        var auxMix = student.AuxLogits
            ?? throw new InvalidOperationException("the smile regularizer needs a student with an aux head (aux_fc, the source classifier's shape)");

        // The teacher sees the clean images, in eval mode (its BatchNorm statistics stay the source's), and
        // only provides targets: no graph is built through it.
        Tensor softTargets, featureTarget;
        using (no_grad())
        {
            var source = ctx.TeacherForward(images);
            softTargets = source.Logits.softmax(1);
            featureTarget = LossTerms.Mix(source.Features, lam, permutation);
        }
        if (auxMix.shape[1] != softTargets.shape[1])
            throw new InvalidOperationException($"the student's aux head has {auxMix.shape[1]} outputs but the teacher's classifier has {softTargets.shape[1]}");
        if (!student.Features.shape.SequenceEqual(featureTarget.shape))
            throw new InvalidOperationException($"student features [{string.Join(", ", student.Features.shape)}] and teacher features [{string.Join(", ", featureTarget.shape)}] differ in shape");

        var main = LossTerms.MixedCrossEntropy(student.Logits, labels, lam, permutation);
        // CE against lam * q + (1 - lam) * q[p], written as the two CEs (it is linear in the target).
        var aux = LossTerms.SoftCrossEntropy(auxMix, softTargets) * lam
                + LossTerms.SoftCrossEntropy(auxMix, softTargets.index_select(0, permutation)) * (1.0 - lam);
        // The Frobenius norm of the whole N x C x H x W difference, not squared, divided by H * W.
        long spatial = student.Features.shape[2] * student.Features.shape[3];
        var reg = (featureTarget - student.Features).norm() / spatial;
        var cls = LossTerms.ClassifierL2(ctx);

        var options = ctx.Options;
        var terms = new List<(string, Tensor)>
        {
            ("main", main),
            ("aux", aux * options.AuxLambda),
            ("reg", reg * options.RegLambda),
            ("cls", cls * options.ClsLambda),
        };
        L2SpTerm.AddIfEnabled(ctx, terms);
        return LossTerms.Finish(terms, LossTerms.MixedAccuracy(student.Logits, labels, lam, permutation));
    }

    public bool WeightDecayApplies(string parameterName) => true;

    /// <summary>The mean teacher moves towards the student every 10th iteration (0, 10, 20, ...), after the step.</summary>
    public void AfterStep(TrainingContext ctx, long iteration)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        if (ctx.Options.EmaDecay >= 1 || iteration % 10 != 0) return;
        var teacher = ctx.Teacher ?? throw new InvalidOperationException("the smile regularizer needs a teacher (the pre-trained source model)");
        MeanTeacher.Update(teacher, ctx.Student, ctx.Options.EmaDecay);
        ctx.TeacherChanged();
    }
}

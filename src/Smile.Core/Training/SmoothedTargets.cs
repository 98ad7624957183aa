using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// The soft targets of label smoothing and instance-based label smoothing (docs/METHODS.md, "Label smoothing: ls and ils"), without a
/// graph: the student's loss is <see cref="LossTerms.SoftCrossEntropy"/> against them.
/// </summary>
public static class SmoothedTargets
{
    /// <summary>The eps of ls and ils, a setting of both methods.</summary>
    public static MethodSetting<double> Smoothing { get; } = new("smoothing", "Label smoothing eps.", 0.1,
        v => v is >= 0 and < 1 ? null : "must be in [0, 1)");

    /// <summary>LS: q_k = (1 - eps) 1[k = y] + eps / K for every k (the true class gets 1 - eps + eps / K).</summary>
    public static Tensor Uniform(Tensor labels, long classes, double epsilon, ScalarType dtype = ScalarType.Float32)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var oneHot = nn.functional.one_hot(labels, classes).to(dtype);
        return oneHot.Times(1.0 - epsilon).Plus(epsilon / classes).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// ILS (the authors' ILS2): q_y = 1 - eps and, for k != y, q_k = eps * p_k / (1 - p_y) with
    /// p = softmax(teacherLogits / T). The non-target mass keeps the teacher's similarity structure.
    /// Worked example: p = (0.95, 0.04, 0.01), y = 0, eps = 0.1 gives q = (0.90, 0.08, 0.02).
    /// </summary>
    public static Tensor Instance(Tensor teacherLogits, Tensor labels, double epsilon, double temperature)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        // p_k / (1 - p_y) is the softmax of z / T over the wrong classes alone. Computed that way it is exact
        // even when the teacher is so sure that p_y rounds to 1 and 1 - p_y to 0 (dividing would then blow
        // the wrong classes' share up far beyond eps).
        var oneHot = nn.functional.one_hot(labels, teacherLogits.shape[1]).to(teacherLogits.dtype);
        using Scalar minusInfinity = double.NegativeInfinity;
        var wrong = teacherLogits.DividedBy(temperature).masked_fill(oneHot.to(ScalarType.Bool), minusInfinity).softmax(1);
        return oneHot.Times(1.0 - epsilon).Plus(wrong.Times(epsilon)).MoveToOuterDisposeScope();
    }

    /// <summary>The ILS target from teacher probabilities p (rows sum to 1).</summary>
    public static Tensor FromProbabilities(Tensor p, Tensor labels, double epsilon)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var oneHot = nn.functional.one_hot(labels, p.shape[1]).to(p.dtype);
        // The wrong classes' own sum, not 1 - p_y: no cancellation when p_y is close to 1.
        var others = p * oneHot.SubtractedFrom(1.0);
        using Scalar tiny = 1e-300;
        var rest = others / others.sum(1, keepdim: true).clamp_min(tiny);
        return oneHot.Times(1.0 - epsilon).Plus(rest.Times(epsilon)).MoveToOuterDisposeScope();
    }
}

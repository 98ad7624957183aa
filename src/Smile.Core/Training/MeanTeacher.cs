using Smile.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// SMILE's mean teacher: the teacher's backbone follows an exponential moving average of the student's.
/// The teacher's fc (the source classifier) is its own and is never averaged (the student's fc has another
/// shape anyway); buffers (BatchNorm running statistics) stay the source's, so the teacher's eval-mode
/// normalisation is unchanged.
/// </summary>
public static class MeanTeacher
{
    /// <summary>teacher = decay * teacher + (1 - decay) * student, for every teacher parameter except its classifier head,
    /// matched by name.</summary>
    /// <exception cref="InvalidOperationException">A teacher parameter has no student parameter of that name and shape;
    /// checked before anything changes.</exception>
    public static void Update(ImageClassifier teacher, ImageClassifier student, double decay)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        ArgumentNullException.ThrowIfNull(student);
        if (!(decay >= 0 && decay <= 1)) throw new ArgumentOutOfRangeException(nameof(decay), decay, "the EMA decay must be in [0, 1]");

        var studentParams = student.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        var pairs = new List<(Tensor Teacher, Tensor Student)>();
        foreach (var (name, t) in teacher.named_parameters())
        {
            if (name.StartsWith(teacher.HeadName + ".", StringComparison.Ordinal)) continue;
            if (!studentParams.TryGetValue(name, out var s))
                throw new InvalidOperationException($"mean teacher: the student has no parameter '{name}'");
            if (!s.shape.SequenceEqual(t.shape))
                throw new InvalidOperationException($"mean teacher: '{name}' is [{string.Join(", ", t.shape)}] in the teacher, [{string.Join(", ", s.shape)}] in the student");
            pairs.Add((t, s));
        }

        using var noGrad = no_grad();
        using Scalar keep = decay, take = 1.0 - decay;
        foreach (var (t, s) in pairs)
            t.mul_(keep).add_(s, take);
    }
}

using Smile.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// SMILE's mean teacher: the teacher's backbone follows an exponential moving average of the student's.
/// The teacher's fc (the source classifier) is its own and is never averaged (the student's fc has another
/// shape anyway); buffers (BatchNorm running statistics) stay the source's, so the teacher's eval-mode
/// normalisation is unchanged.
/// <para>When the student's parameters are views of flat buffers (built with a <see cref="FlatOptimizer"/>), the
/// first update re-homes the teacher's averaged parameters into buffers laid out the same way
/// (<see cref="MeanTeacherLayout"/>), and every update is then two kernels per buffer instead of two per tensor, with
/// the same bits. <see cref="Align"/> does that re-homing up front.</para>
/// </summary>
public static class MeanTeacher
{
    /// <summary>teacher = decay * teacher + (1 - decay) * student, for every teacher parameter except its classifier head,
    /// matched by name.</summary>
    /// <exception cref="InvalidOperationException">A teacher parameter has no student parameter of that name and shape;
    /// checked before anything changes.</exception>
    public static void Update(ImageClassifier teacher, ImageClassifier student, double decay)
    {
        if (!(decay >= 0 && decay <= 1)) throw new ArgumentOutOfRangeException(nameof(decay), decay, "the EMA decay must be in [0, 1]");
        var pairs = Pairs(teacher, student);
        using var noGrad = no_grad();
        using Scalar keep = decay, take = 1.0 - decay;
        if (MeanTeacherLayout.For(teacher, pairs) is { } layout)
        {
            layout.Average(keep, take);
            return;
        }
        foreach (var (t, s) in pairs)
            t.mul_(keep).add_(s, take);
    }

    /// <summary>Lays the teacher's averaged parameters out like the student's flat buffers now rather than at the first
    /// <see cref="Update"/> (call it after the optimizer is built). Returns false, changing nothing, when the student's
    /// parameters are not flat.</summary>
    /// <exception cref="InvalidOperationException">As <see cref="Update"/>.</exception>
    public static bool Align(ImageClassifier teacher, ImageClassifier student) => MeanTeacherLayout.For(teacher, Pairs(teacher, student)) is not null;

    /// <summary>Each teacher parameter but the head's with the student's of the same name; mismatches throw.</summary>
    private static List<(Parameter Teacher, Parameter Student)> Pairs(ImageClassifier teacher, ImageClassifier student)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        ArgumentNullException.ThrowIfNull(student);
        var studentParams = student.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        var pairs = new List<(Parameter Teacher, Parameter Student)>();
        foreach (var (name, t) in teacher.named_parameters())
        {
            if (name.StartsWith(teacher.HeadName + ".", StringComparison.Ordinal)) continue;
            if (!studentParams.TryGetValue(name, out var s))
                throw new InvalidOperationException($"mean teacher: the student has no parameter '{name}'");
            if (!s.shape.SequenceEqual(t.shape))
                throw new InvalidOperationException($"mean teacher: '{name}' is [{string.Join(", ", t.shape)}] in the teacher, [{string.Join(", ", s.shape)}] in the student");
            pairs.Add((t, s));
        }
        return pairs;
    }
}

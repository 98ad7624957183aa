using System.Runtime.CompilerServices;
using Smile.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// The teacher's averaged parameters laid out like the student's flat buffers (<see cref="FlatLayout"/>): for every
/// run of student parameters that sit side by side in one buffer and all have a teacher counterpart, one teacher
/// buffer with the same relative offsets, so that the EMA of the run is two kernels on two equally long ranges.
/// The plan holds no tensors of its own: the ranges are re-made from the runs' first parameters (their storages
/// are kept alive by the parameters themselves).
/// </summary>
internal sealed class MeanTeacherLayout
{
    private static readonly ConditionalWeakTable<ImageClassifier, MeanTeacherLayout> Layouts = new();

    /// <summary>The first teacher and student parameter of a run and the run's length in elements (padding included).</summary>
    private sealed record Run(Parameter Teacher, Parameter Student, long Length);

    private readonly (Parameter Teacher, Parameter Student, FlatSlot Home)[] pairs;
    private readonly Run[] runs;

    private MeanTeacherLayout((Parameter, Parameter, FlatSlot)[] pairs, Run[] runs) => (this.pairs, this.runs) = (pairs, runs);

    /// <summary>The layout for these pairs (re-homing the teacher's parameters the first time, or when the student's
    /// layout changed), or null when some student parameter is not in a flat buffer or its teacher counterpart
    /// differs in device or dtype: then the EMA goes tensor by tensor.</summary>
    public static MeanTeacherLayout? For(ImageClassifier teacher, IReadOnlyList<(Parameter Teacher, Parameter Student)> pairs)
    {
        var homed = new (Parameter Teacher, Parameter Student, FlatSlot Home)[pairs.Count];
        for (int i = 0; i < pairs.Count; i++)
        {
            var (t, s) = pairs[i];
            if (FlatLayout.HomeOf(s) is not { } home) return null;
            homed[i] = (t, s, home);
        }
        if (Layouts.TryGetValue(teacher, out var cached) && cached.Matches(homed)) return cached;
        if (homed.Any(p => p.Teacher.dtype != p.Student.dtype || p.Teacher.device_type != p.Student.device_type || p.Teacher.device_index != p.Student.device_index))
            return null;

        var layout = new MeanTeacherLayout(homed, Rehome(homed));
        Layouts.AddOrUpdate(teacher, layout);
        return layout;
    }

    /// <summary>teacher = keep * teacher + take * student over every run.</summary>
    public void Average(Scalar keep, Scalar take)
    {
        using var scope = NewDisposeScope();
        foreach (var run in runs)
        {
            var teacher = run.Teacher.as_strided([run.Length], [1], run.Teacher.storage_offset());
            var student = run.Student.as_strided([run.Length], [1], run.Student.storage_offset());
            teacher.mul_(keep).add_(student, take);
        }
    }

    private bool Matches((Parameter Teacher, Parameter Student, FlatSlot Home)[] current) =>
        current.Length == pairs.Length
        && current.Zip(pairs).All(x => ReferenceEquals(x.First.Teacher, x.Second.Teacher)
                                       && ReferenceEquals(x.First.Student, x.Second.Student)
                                       && ReferenceEquals(x.First.Home, x.Second.Home));

    /// <summary>Splits the pairs into runs (same student buffer, consecutive slots) and gives each run's teacher
    /// parameters one new buffer with the student's relative offsets (values copied; Tensor.set_, as FlatGroup does).</summary>
    private static Run[] Rehome((Parameter Teacher, Parameter Student, FlatSlot Home)[] pairs)
    {
        var runs = new List<Run>();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        foreach (var group in pairs.GroupBy(p => p.Home.Group))
        {
            var ordered = group.OrderBy(p => p.Home.Index).ToList();
            int start = 0;
            for (int i = 1; i <= ordered.Count; i++)
            {
                if (i < ordered.Count && ordered[i].Home.Index == ordered[i - 1].Home.Index + 1) continue;
                var members = ordered.GetRange(start, i - start);
                var first = members[0];
                var last = members[^1];
                long begin = first.Home.Offset, length = last.Home.Offset + last.Home.Numel - begin;
                var buffer = zeros(length, first.Teacher.dtype, first.Teacher.device);
                foreach (var (teacher, _, home) in members)
                {
                    var view = home.Shaped(buffer.narrow(0, home.Offset - begin, home.Numel));
                    view.copy_(teacher);
                    teacher.set_(view);
                }
                runs.Add(new Run(first.Teacher, first.Student, length));
                start = i;
            }
        }
        return runs.ToArray();
    }
}

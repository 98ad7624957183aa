using Smile.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// Everything a method may need for a step: the student being trained, the frozen teacher (SMILE's
/// source model; null for methods that do not distil), the common loss weights, and the pre-trained values of the
/// student's backbone (L2-SP's anchor). The context does not own the two models; it owns only its copies of
/// the pre-trained values, which <see cref="Dispose"/> frees.
/// </summary>
public sealed class TrainingContext : IDisposable
{
    private readonly Dictionary<string, Tensor> pretrained;
    private FoldedResNet? foldedTeacher;
    private bool teacherChanged;
    private bool disposed;

    public ImageClassifier Student { get; }

    /// <summary>The student's device (that of its first parameter), where every tensor of a step belongs.</summary>
    public Device Device { get; }

    /// <summary>The step's arithmetic: fp32 unless the run asks for mixed precision.</summary>
    public MixedPrecision Precision { get; init; } = MixedPrecision.Fp32;

    /// <summary>The batches arrive channels-last (<see cref="CudaSpeed"/>): the folded teacher keeps its weights so too.</summary>
    public bool ChannelsLast { get; init; }
    public ImageClassifier? Teacher { get; }
    public LossOptions Options { get; }

    /// <summary>The profiler's stage clock for the step in progress (null when nobody measures); a method's loss marks
    /// its stages on it (<see cref="IStepTimer"/>).</summary>
    public IStepTimer? Timer { get; set; }

    /// <summary>Pre-trained values of the student's backbone parameters (every parameter not under fc./aux_fc.),
    /// detached copies taken at construction, by name; used by L2-SP.</summary>
    public IReadOnlyDictionary<string, Tensor> PretrainedBackbone => pretrained;

    /// <summary>The student's fc.* and aux_fc.* parameters, looked up once (the classifier L2 term sums them every step).</summary>
    internal IReadOnlyList<Parameter> HeadParameters { get; }

    /// <summary>Each backbone parameter with its pre-trained value, in the module's order.</summary>
    internal IReadOnlyList<(Parameter Current, Tensor Pretrained)> BackbonePairs { get; }

    /// <summary>Call after the pre-trained weights are loaded into <paramref name="student"/>: its backbone's
    /// values at this moment become <see cref="PretrainedBackbone"/>.</summary>
    public TrainingContext(ImageClassifier student, ImageClassifier? teacher, LossOptions options)
    {
        Student = student ?? throw new ArgumentNullException(nameof(student));
        Device = student.parameters().First().device;
        Teacher = teacher;
        Options = options ?? throw new ArgumentNullException(nameof(options));

        var heads = new List<Parameter>();
        var pairs = new List<(Parameter, Tensor)>();
        pretrained = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using (no_grad())
        using (NewDisposeScope())
        {
            foreach (var (name, parameter) in student.named_parameters())
            {
                if (ParameterGroups.IsHead(name))
                {
                    heads.Add(parameter);
                    continue;
                }
                // Detached from any dispose scope the caller may be in: the copy lives as long as the context.
                var copy = parameter.detach().clone().DetachFromDisposeScope();
                pretrained[name] = copy;
                pairs.Add((parameter, copy));
            }
        }
        HeadParameters = heads;
        BackbonePairs = pairs;
    }

    /// <summary>Whether <see cref="TeacherForward"/> runs a ResNet teacher with its BatchNorms folded into its
    /// convolutions (<see cref="FoldedResNet"/>: the same outputs up to float rounding, one pass per activation
    /// fewer). On by default; off runs the teacher module itself.</summary>
    public bool FoldTeacherBatchNorm { get; init; } = true;

    /// <summary>The teacher's eval-mode forward on <paramref name="images"/>, without autograd: it only provides
    /// targets. Its BatchNorm statistics stay the source's.</summary>
    public ClassifierOutput TeacherForward(Tensor images)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var teacher = Teacher ?? throw new InvalidOperationException("this run has no teacher");
        using var noGrad = no_grad();
        teacher.eval();
        if (!FoldTeacherBatchNorm || teacher is not ResNet resnet) return teacher.call(images);
        // Folded on first use, so that weights loaded after the context was made (a resumed run's) are the ones folded.
        if (foldedTeacher is null)
        {
            foldedTeacher = new FoldedResNet(resnet, ChannelsLast);
            teacherChanged = false;
        }
        else RefoldTeacher();
        return foldedTeacher.Forward(images);
    }

    /// <summary>Refolds the folded teacher now if the teacher changed since it was last folded (in place: its tensors
    /// keep their addresses). A replayed CUDA graph (Training/StepGraphs.cs) calls it after the mean teacher's update,
    /// since the captured teacher forward reads the folded weights without looking at the flag.</summary>
    internal void RefoldTeacher()
    {
        if (foldedTeacher is not null && teacherChanged) foldedTeacher.Refold();
        teacherChanged = false;
    }

    /// <summary>The folded teacher's weights and biases (none before the first teacher forward).</summary>
    internal IEnumerable<Tensor> FoldedTeacherTensors => foldedTeacher?.FoldedTensors ?? [];

    /// <summary>Call after changing the teacher's weights (the mean teacher's EMA update): the folded copy
    /// <see cref="TeacherForward"/> uses is refolded before its next use.</summary>
    public void TeacherChanged() => teacherChanged = true;

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foldedTeacher?.Dispose();
        foreach (var tensor in pretrained.Values) tensor.Dispose();
        pretrained.Clear();
    }
}

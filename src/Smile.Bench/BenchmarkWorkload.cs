using Smile.Models;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Bench;

/// <summary>
/// What `smile bench train` and `smile bench memory` run, matching the PyTorch side (src/Smile.Bench/bench/torch_step.py):
/// a student with a 1000-class aux head and a 200-class head, a frozen 1000-class teacher, one random batch, the
/// trainer's regularizers and optimizer. A step ends as a trainer iteration ends: its dispose scope closed and
/// TorchSharp's finalizer garbage drained.
/// </summary>
public sealed class BenchmarkWorkload : IDisposable
{
    private readonly ImageClassifier teacher;
    private readonly ImageClassifier student;
    private readonly TrainingContext context;
    private readonly NesterovSgd sgd;
    private readonly Tensor x;
    private readonly Tensor y;
    private readonly Random rng = new(0);
    private readonly StepGraphs? graphs;
    private FoldedResNet? foldedStudent;
    private bool studentChanged;

    public int BatchSize { get; }

    /// <summary>Whether the teacher and the eval forward run a ResNet with its BatchNorms folded, as the trainer and the
    /// evaluator do (false: the modules themselves, to measure what folding buys).</summary>
    public bool FoldBatchNorm { get; }

    /// <summary>Whether the batch and the folded weights are channels-last, as a run's on this device by default.</summary>
    public bool ChannelsLast { get; }

    /// <summary>The strides of the timed batch: NHWC ones when <see cref="ChannelsLast"/>.</summary>
    public long[] BatchStrides => x.stride();

    /// <summary>The CUDA speed switches line (Training/CudaSpeed.cs), as a run logs it.</summary>
    public string SpeedLine { get; }

    /// <summary>How many steps were replayed from a graph (0 unless made with graphs).</summary>
    public int Replays => graphs?.Replays ?? 0;

    /// <param name="speed">The run's CUDA speed switches (default: a run's defaults, so on CUDA cuDNN autotuning, TF32 and
    /// channels-last are on, as `finetune` has them; on the CPU nothing changes).</param>
    /// <param name="graphs">Replay the steps from a graph, as a run does on CUDA (<see cref="CudaSpeed.GraphBackend"/>; no
    /// effect where that gives none).</param>
    /// <param name="graphBackend">Replay the steps from graphs of this backend (instead of <paramref name="graphs"/>'s choice).</param>
    public BenchmarkWorkload(string arch, int imageSize, int batchSize, bool foldBatchNorm = true, MixedPrecision? precision = null, Device? device = null,
        CudaSpeed? speed = null, bool graphs = false, Func<IStepGraph>? graphBackend = null)
    {
        FoldBatchNorm = foldBatchNorm;
        BatchSize = batchSize;
        (teacher, student) = CreateModels(arch);
        device ??= CPU;
        speed = (speed ?? new CudaSpeed()).ForRun(student, precision ?? MixedPrecision.Fp32);
        SpeedLine = speed.Apply(device, out var warning) + (warning is null ? "" : $" ({warning})");
        ChannelsLast = speed.ChannelsLastOn(device);
        teacher.to(device);
        student.to(device);
        if (ChannelsLast) CudaSpeed.WeightsToChannelsLast(student); // as a run does, before the optimizer flattens them
        context = new TrainingContext(student, teacher, new LossOptions())
        { FoldTeacherBatchNorm = foldBatchNorm, Precision = precision ?? MixedPrecision.Fp32, ChannelsLast = ChannelsLast };
        sgd = new NesterovSgd(student.named_parameters().Select(p => (p.name, p.parameter, true)), 0.01);
        if ((graphBackend ?? (graphs ? speed.GraphBackend(device, out _) : null)) is { } backend)
            this.graphs = new StepGraphs(context, sgd, backend, Serilog.Core.Logger.None);
        using (var plain = randn(batchSize, 3, imageSize, imageSize, device: device))
            x = ChannelsLast ? CudaSpeed.ToChannelsLast(plain) : plain.alias();
        y = randint(0, 200, batchSize, device: device);
    }

    /// <summary>The benchmarks' pair, seeded: a frozen 1000-class teacher in eval mode and a 200-class student with a
    /// 1000-class aux head in train mode (the PyTorch side builds the same).</summary>
    internal static (ImageClassifier Teacher, ImageClassifier Student) CreateModels(string arch)
    {
        torch.random.manual_seed(0);
        var teacher = ModelFactory.Create(arch, 1000);
        teacher.eval();
        foreach (var p in teacher.parameters()) p.requires_grad = false;
        var student = ModelFactory.Create(arch, 200, 1000);
        student.train();
        return (teacher, student);
    }

    /// <summary>One training iteration of <paramref name="method"/>: the engine's own <see cref="TrainingStep.Run"/>.</summary>
    public void Step(IRegularizer method, long iteration)
    {
        ArgumentNullException.ThrowIfNull(method);
        Step(method, iteration, new StepBatch(x, y), method.DrawMix(rng, BatchSize));
    }

    /// <summary>One training iteration of <paramref name="method"/> on a batch and mix of the caller's (on the workload's
    /// device, laid out as <see cref="ChannelsLast"/> says), as <see cref="Step(IRegularizer, long)"/> runs it.</summary>
    public StepResult Step(IRegularizer method, long iteration, StepBatch batch, MixPlan? mix)
    {
        ArgumentNullException.ThrowIfNull(method);
        var result = graphs is null ? TrainingStep.Run(context, method, sgd, batch, mix, iteration) : graphs.Run(method, batch, mix, iteration);
        studentChanged = true;
        Smile.Native.NativeGarbage.Release();
        return result;
    }

    /// <summary>The student's and the teacher's state ("student.NAME", "teacher.NAME") as float64 CPU copies the caller owns.</summary>
    public Dictionary<string, Tensor> Snapshot()
    {
        var copies = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using var scope = NewDisposeScope();
        foreach (var (prefix, model) in new[] { ("student.", student), ("teacher.", teacher) })
            foreach (var (name, value) in model.state_dict())
                copies[prefix + name] = value.detach().cpu().to(ScalarType.Float64).DetachFromDisposeScope();
        return copies;
    }

    /// <summary>One eval-mode forward of the student without autograd, as the evaluator runs a batch: a ResNet with
    /// its BatchNorms folded, refolded when training steps have changed it since (the evaluator folds once per
    /// evaluation, so in a timing series only the first call pays for it).</summary>
    public void Eval()
    {
        using (NewDisposeScope())
        using (context.Precision.Enter(context.Device))
        {
            if (FoldBatchNorm && student is ResNet resnet)
            {
                // Folding computes eval-mode arithmetic whatever the module's mode.
                if (foldedStudent is null) foldedStudent = new FoldedResNet(resnet, ChannelsLast);
                else if (studentChanged) foldedStudent.Refold();
                studentChanged = false;
                foldedStudent.Forward(x);
            }
            else
            {
                student.eval();
                using (no_grad()) student.call(x);
                student.train();
            }
        }
        Smile.Native.NativeGarbage.Release();
    }

    public void Dispose()
    {
        graphs?.Dispose();
        foldedStudent?.Dispose();
        sgd.Dispose();
        context.Dispose();
        student.Dispose();
        teacher.Dispose();
        x.Dispose();
        y.Dispose();
    }
}

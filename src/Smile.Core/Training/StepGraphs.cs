using Serilog;
using Smile.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>Records a step once and replays it: <see cref="CudaStepGraph"/> on CUDA; the tests' stand-in elsewhere.</summary>
public interface IStepGraph : IDisposable
{
    /// <summary>Records what <paramref name="body"/> launches. Whether it runs now or only at <see cref="Replay"/> is the
    /// backend's affair: CUDA's runs nothing until the first replay, so the caller replays right after capturing.</summary>
    void Capture(Action body);

    /// <summary>Runs the recorded step again on the same tensors.</summary>
    void Replay();

    /// <summary>Runs an eager warm-up step where the capture will run (CUDA's: on the capture stream).</summary>
    void Warm(Action step);
}

/// <summary>LibTorch's CUDA graph (<see cref="CudaGraph"/>) as an <see cref="IStepGraph"/>.</summary>
public sealed class CudaStepGraph(int deviceIndex) : IStepGraph
{
    private readonly CudaGraph graph = new(deviceIndex);
    public void Capture(Action body) => graph.Capture(body);
    public void Replay() => graph.Replay();
    public void Warm(Action step) => graph.RunOnCaptureStream(step);
    public void Dispose() => graph.Dispose();
}

/// <summary>The stand-in for a graph where there is none (the CPU): "capturing" keeps the code and each replay runs it
/// again. Everything the runner does around a replay (static inputs, outputs, the mean teacher between replays,
/// recapture, fallback) is then exercised on any machine: the tests use it, and SMILE_STEP_GRAPHS=rerun turns it on in
/// a run (<see cref="CudaSpeed.GraphBackend"/>) so that a whole fine-tune, its checkpoints and its resume go through
/// the runner on the CPU.</summary>
public sealed class RerunStepGraph : IStepGraph
{
    private Action? body;
    public void Capture(Action body) => this.body = body ?? throw new ArgumentNullException(nameof(body));
    public void Replay() => (body ?? throw new InvalidOperationException("replay of a step that was not captured"))();
    public void Warm(Action step) => step();
    public void Dispose() { }
}

/// <summary>
/// The training step replayed as a graph (docs/GPU.md, "CUDA graphs"): after <see cref="WarmupSteps"/> eager steps of
/// a method (cuDNN's autotuning, the optimizer's buffers, the folded teacher and the mean teacher's layout all settle
/// there), <see cref="TrainingStep.Launch"/> (loss, backward, update) is captured on static copies of the batch and
/// the mix, and each later step copies its batch and mix into them and replays. What the graph cannot hold runs
/// eagerly between replays: reading the loss, the method's after-step (SMILE's mean teacher every 10th step) and the
/// teacher's refold. A graph bakes in the learning rate and the method, so a new rate (the schedule's drop) or a new
/// method (SMILE's plain final iterations) is captured anew; so is a step whose tensors moved since the capture (a
/// parameter re-homed by Tensor.set_), which is checked after every step. A step that cannot be captured (the
/// method says so, fp16's loss scaler, class or sample weights) runs eagerly with one log line; a capture that fails
/// leaves the rest of the run eager, with one log line, never a wrong step.
/// <para>One difference from the eager step: the update of a step whose loss is not finite is made (the graph cannot
/// look at the loss first). The run engine stops such a run at once and saves nothing from it, so no checkpoint
/// holds those weights.</para>
/// </summary>
public sealed class StepGraphs : IDisposable
{
    /// <summary>Eager steps of a method before its first capture.</summary>
    public const int WarmupSteps = 3;

    private readonly TrainingContext ctx;
    private readonly IOptimizer optimizer;
    private readonly Func<IStepGraph> newGraph;
    private readonly ILogger log;
    private readonly Dictionary<IRegularizer, int> eagerSteps = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<string> said = new(StringComparer.Ordinal);
    private Captured? current;
    private IStepGraph? warming; // the graph the warm-up steps ran on, to be captured next
    private bool failed;

    /// <param name="newGraph">Makes an empty graph (on CUDA: <c>() => new CudaStepGraph(index)</c>).</param>
    public StepGraphs(TrainingContext ctx, IOptimizer optimizer, Func<IStepGraph> newGraph, ILogger log)
    {
        this.ctx = ctx ?? throw new ArgumentNullException(nameof(ctx));
        this.optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        this.newGraph = newGraph ?? throw new ArgumentNullException(nameof(newGraph));
        this.log = log ?? throw new ArgumentNullException(nameof(log));
    }

    /// <summary>How many graphs were captured (a new rate, method or moved tensor makes another).</summary>
    public int Captures { get; private set; }

    /// <summary>How many steps were replayed.</summary>
    public int Replays { get; private set; }

    /// <summary>Whether a capture failed, so that every later step runs eagerly.</summary>
    public bool Failed => failed;

    /// <summary>Why <paramref name="method"/>'s step on <paramref name="batch"/> cannot be captured, or null when it can.</summary>
    public string? WhyEager(IRegularizer method, StepBatch batch)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(batch);
        if (failed) return "a capture failed earlier in this run";
        if (!method.Capturable) return $"the {method.Name} method's step is not written to be captured";
        if (ctx.Precision.Scaler is not null) return "fp16's loss scaler reads its overflow flag on the host";
        if (ctx.Options.ClassWeights is not null) return "class weights are made from host data in every step";
        if (batch.Weights is not null) return "per-image weights are made from host data in every step";
        return null;
    }

    /// <summary>One training step of <paramref name="method"/>, replayed when it can be, as <see cref="TrainingStep.Run"/> otherwise.</summary>
    public StepResult Run(IRegularizer method, StepBatch batch, MixPlan? mix, long iteration)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(batch);
        if (WhyEager(method, batch) is { } reason)
        {
            Drop();
            if (said.Add($"{method.Name}: {reason}")) log.Information("CUDA graphs: the {Method:l} step runs eagerly ({Reason:l})", method.Name, reason);
            return TrainingStep.Run(ctx, method, optimizer, batch, mix, iteration);
        }
        if (current is not null && !current.Fits(method, optimizer.LearningRate, batch, mix)) Drop();
        if (current is null)
        {
            int done = eagerSteps.GetValueOrDefault(method);
            if (done < WarmupSteps)
            {
                eagerSteps[method] = done + 1;
                if (warming is null && !TryNewGraph(method, out warming)) return TrainingStep.Run(ctx, method, optimizer, batch, mix, iteration);
                StepResult? warm = null;
                warming.Warm(() => warm = TrainingStep.Run(ctx, method, optimizer, batch, mix, iteration));
                return warm!;
            }
            current = TryCapture(method, batch, mix, iteration);
            if (current is null) return TrainingStep.Run(ctx, method, optimizer, batch, mix, iteration);
        }

        current.Load(batch, mix);
        current.Graph.Replay();
        Replays++;
        var (loss, terms, accuracy) = TrainingStep.Read(current.Outputs!);
        var result = new StepResult(loss, terms, accuracy);
        if (!result.Finite) return result;
        method.AfterStep(ctx, iteration);
        ctx.RefoldTeacher();
        if (!current.AddressesHold())
        {
            log.Information("CUDA graphs: a tensor of the captured step moved after iteration {Iteration}; the step is captured again", iteration);
            Drop();
        }
        return result;
    }

    private bool TryNewGraph(IRegularizer method, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IStepGraph? graph)
    {
        try
        {
            graph = newGraph();
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            graph = null;
            failed = true;
            log.Warning("CUDA graphs: no graph could be made for the {Method:l} step ({Error:l}); the run goes on with eager steps", method.Name, e.Message.Split('\n')[0]);
            return false;
        }
    }

    private Captured? TryCapture(IRegularizer method, StepBatch batch, MixPlan? mix, long iteration)
    {
        Captured? captured = null;
        try
        {
            var graph = warming ?? newGraph();
            warming = null;
            captured = new Captured(method, optimizer.LearningRate, batch, mix, graph);
            var staticMix = captured.Mix is null || mix is null ? null : mix with { Bound = captured.Mix };
            var inputs = captured.Batch;
            captured.Load(batch, mix);
            ctx.RefoldTeacher(); // a refold still pending after an eager EMA step happens now, not inside the graph
            captured.Graph.Capture(() =>
            {
                using var scope = NewDisposeScope();
                using var losses = TrainingStep.Launch(ctx, method, optimizer, inputs, staticMix, iteration);
                captured.Keep(losses);
            });
            captured.Watch(Watched());
            Captures++;
            log.Information("CUDA graphs: the {Method:l} step is captured at iteration {Iteration} (learning rate {Lr:G4}) and replayed from here",
                method.Name, iteration, optimizer.LearningRate);
            return captured;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            captured?.Dispose();
            failed = true;
            // The capture recorded nothing that ran: the weights are those of the last step, and the eager step goes on from them.
            log.Warning("CUDA graphs: capturing the {Method:l} step failed ({Error:l}); the run goes on with eager steps", method.Name, e.Message.Split('\n')[0]);
            return null;
        }
    }

    /// <summary>Every tensor a captured step reads or writes in place beyond its own inputs: the models' parameters and
    /// buffers, the folded teacher's weights and the optimizer's state. Their data addresses are compared after every
    /// replayed step (the list is made once, at capture: a few hundred pointer reads a step).</summary>
    private Tensor[] Watched()
    {
        var tensors = new List<Tensor>();
        tensors.AddRange(ctx.Student.parameters());
        tensors.AddRange(ctx.Student.buffers());
        if (ctx.Teacher is { } teacher)
        {
            tensors.AddRange(teacher.parameters());
            tensors.AddRange(teacher.buffers());
        }
        tensors.AddRange(ctx.FoldedTeacherTensors);
        tensors.AddRange(optimizer.State.Values);
        return tensors.ToArray();
    }

    private void Drop()
    {
        current?.Dispose();
        current = null;
    }

    public void Dispose()
    {
        Drop();
        warming?.Dispose();
        warming = null;
    }

    /// <summary>One captured step: its graph, its static inputs (the batch, the mix) and outputs (the losses), and the
    /// addresses it was captured on.</summary>
    private sealed class Captured : IDisposable
    {
        private readonly IRegularizer method;
        private readonly double learningRate;
        private Tensor[] watched = [];
        private IntPtr[] addresses = [];

        public Captured(IRegularizer method, double learningRate, StepBatch batch, MixPlan? mix, IStepGraph graph)
        {
            this.method = method;
            this.learningRate = learningRate;
            Graph = graph;
            using var scope = NewDisposeScope();
            // Clones keep the batch's strides (channels-last stays channels-last), so copying a batch in is one plain copy.
            Batch = new StepBatch(batch.Images.clone().DetachFromDisposeScope(), batch.Labels.clone().DetachFromDisposeScope()) { Epoch = batch.Epoch };
            Mix = mix is null ? null : MixWeights.Persistent(batch.Images.shape[0], batch.Images.device);
        }

        public IStepGraph Graph { get; }
        public StepBatch Batch { get; }
        public MixWeights? Mix { get; }
        public StepLosses? Outputs { get; private set; }

        public bool Fits(IRegularizer m, double lr, StepBatch batch, MixPlan? mix) =>
            ReferenceEquals(m, method) && lr == learningRate && (mix is null) == (Mix is null)
            && batch.Images.shape.SequenceEqual(Batch.Images.shape) && batch.Labels.shape.SequenceEqual(Batch.Labels.shape)
            && batch.Images.dtype == Batch.Images.dtype && batch.Images.stride().SequenceEqual(Batch.Images.stride());

        /// <summary>Copies the step's batch and mix into the captured inputs.</summary>
        public void Load(StepBatch batch, MixPlan? mix)
        {
            Batch.Images.copy_(batch.Images);
            Batch.Labels.copy_(batch.Labels);
            if (Mix is not null) Mix.Fill(mix ?? throw new ArgumentNullException(nameof(mix), "a mixing step needs its MixPlan"));
        }

        /// <summary>The captured step's outputs, detached and out of every dispose scope (a backend that runs the body
        /// at every replay hands new ones each time; the old ones go).</summary>
        public void Keep(StepLosses losses)
        {
            var kept = new StepLosses(losses.Total.detach().DetachFromDisposeScope(),
                losses.Terms.ToDictionary(t => t.Key, t => t.Value.detach().DetachFromDisposeScope(), StringComparer.Ordinal))
            { Accuracy = losses.Accuracy?.detach().DetachFromDisposeScope() };
            Outputs?.Dispose();
            Outputs = kept;
        }

        public void Watch(Tensor[] tensors)
        {
            watched = tensors;
            addresses = Array.ConvertAll(tensors, TensorAddress.Of);
        }

        /// <summary>Whether every watched tensor still has the data address it had at capture.</summary>
        public bool AddressesHold()
        {
            for (int i = 0; i < watched.Length; i++)
                if (TensorAddress.Of(watched[i]) != addresses[i]) return false;
            return true;
        }

        public void Dispose()
        {
            Graph.Dispose();
            Outputs?.Dispose();
            Batch.Images.Dispose();
            Batch.Labels.Dispose();
            Mix?.Dispose();
        }
    }
}

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// SGD with momentum and coupled weight decay, as torch.optim.SGD computes it (and Paddle's Momentum with
/// weight_decay=float):
/// <code>
///   g   = grad + wd * p                    (only for parameters with Decay)
///   buf = momentum * buf + g               (buf = g on a parameter's first step)
///   p  -= lr * (g + momentum * buf)        with Nesterov momentum (nesterov: true, the fine-tuning optimizer)
///   p  -= lr * buf                         with plain, heavy-ball momentum (nesterov: false, SimTrans's SimNet)
/// </code>
/// Written out rather than TorchSharp's optim.SGD because weight decay is per parameter (L2-SP turns it off on
/// the backbone) and the momentum buffers must be saved and restored by parameter name for checkpoints. The
/// buffers are views of one flat buffer per parameter group (<see cref="FlatOptimizer"/>).
/// </summary>
public class MomentumSgd : FlatOptimizer
{
    /// <summary>A group's momentum: one buffer laid out like the group's parameters, and which parameters have one yet.</summary>
    private sealed class GroupState(FlatGroup group, Tensor buffer)
    {
        public Tensor Buffer { get; } = buffer;
        public bool[] Started { get; } = new bool[group.Slots.Count];
        public int StartedCount { get; set; }
        /// <summary>The current whole-group step is the buffer's first.</summary>
        public bool FirstFlatStep { get; set; }
        /// <summary>Each parameter's view of <see cref="Buffer"/>, made when first asked for.</summary>
        public Tensor?[] Views { get; } = new Tensor?[group.Slots.Count];
    }

    private readonly GroupState[] states;
    private readonly double momentum;
    private readonly double weightDecay;

    public MomentumSgd(IEnumerable<(string Name, Parameter Param, bool Decay)> parameters, double lr, double momentum, double weightDecay, bool nesterov,
        Func<string, double>? lrScaleOf = null)
        : base(parameters, lr, lrScaleOf)
    {
        if (!(momentum >= 0 && momentum < 1)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be in [0, 1)");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "weight decay must be 0 or more");
        this.momentum = momentum;
        this.weightDecay = weightDecay;
        Nesterov = nesterov;
        states = Groups.Select(g => new GroupState(g, zeros_like(g.Values).DetachFromDisposeScope())).ToArray();
    }

    /// <summary>True: Nesterov momentum; false: plain (heavy-ball) momentum.</summary>
    public bool Nesterov { get; }

    /// <summary>The momentum buffer of each parameter that has taken a step, by name. The optimizer owns them.</summary>
    public IReadOnlyDictionary<string, Tensor> MomentumBuffers
    {
        get
        {
            ThrowIfDisposed();
            var buffers = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var slot in Slots)
                if (states[slot.Group.Index].Started[slot.Index]) buffers[slot.Name] = View(slot);
            return buffers;
        }
    }

    public override IReadOnlyDictionary<string, Tensor> State => MomentumBuffers;

    public override void LoadState(IReadOnlyDictionary<string, Tensor> saved) => LoadMomentumBuffers(saved);

    /// <summary>Restores buffers saved from <see cref="MomentumBuffers"/> (copies them, onto each parameter's
    /// device and dtype). Names the optimizer does not know, or shapes that differ, throw before anything changes;
    /// parameters absent from <paramref name="saved"/> start afresh, as on their first step.</summary>
    public void LoadMomentumBuffers(IReadOnlyDictionary<string, Tensor> saved)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(saved);
        var problems = new List<string>();
        foreach (var (name, tensor) in saved)
        {
            if (!TryGetSlot(name, out var slot)) problems.Add($"'{name}' is not an optimized parameter");
            else if (!tensor.shape.SequenceEqual(slot.Shape))
                problems.Add($"'{name}' has shape {ShapeText(tensor.shape)}, the parameter {ShapeText(slot.Shape)}");
        }
        if (problems.Count > 0) throw new ArgumentException($"momentum buffers do not match the parameters: {string.Join("; ", problems)}");

        foreach (var state in states)
        {
            Array.Clear(state.Started);
            state.StartedCount = 0;
        }
        using var noGrad = no_grad();
        foreach (var (name, tensor) in saved)
        {
            TryGetSlot(name, out var slot);
            View(slot).copy_(tensor); // converts dtype and device
            var state = states[slot.Group.Index];
            state.Started[slot.Index] = true;
            state.StartedCount++;
        }
    }

    private protected override void ResetOne(FlatSlot slot)
    {
        var state = states[slot.Group.Index];
        View(slot).zero_();
        if (!state.Started[slot.Index]) return;
        state.Started[slot.Index] = false;
        state.StartedCount--;
    }

    private protected override bool StateIsUniform(FlatGroup group)
    {
        int started = states[group.Index].StartedCount;
        return momentum == 0 || started == 0 || started == group.Slots.Count;
    }

    private protected override void BeginFlatStep(FlatGroup group)
    {
        var state = states[group.Index];
        // A buffer's first step copies the gradient in (torch.optim's buf = g), in every chunk of this step.
        state.FirstFlatStep = momentum != 0 && state.StartedCount == 0;
        if (!state.FirstFlatStep) return;
        Array.Fill(state.Started, true);
        state.StartedCount = state.Started.Length;
    }

    private protected override void StepFlat(FlatGroup group, FlatChunk chunk, Tensor grad)
    {
        using Scalar wd = weightDecay, mu = momentum, negLr = -RateOf(group);
        var p = chunk.Of(group.Values);
        if (group.Decay && weightDecay != 0) grad.add_(p, wd);
        if (momentum == 0)
        {
            p.add_(grad, negLr);
            return;
        }
        var state = states[group.Index];
        var buf = chunk.Of(state.Buffer);
        if (state.FirstFlatStep) buf.copy_(grad);
        else buf.mul_(mu).AddInPlace(grad);
        if (Nesterov) p.add_(grad.add_(buf, mu), negLr);
        else p.add_(buf, negLr);
    }

    private protected override void StepOne(FlatSlot slot, Tensor grad)
    {
        using Scalar wd = weightDecay, mu = momentum, negLr = -RateOf(slot.Group);
        var param = slot.Param;
        var g = slot.Decay && weightDecay != 0 ? grad.add(param, wd) : grad;
        if (momentum != 0)
        {
            var state = states[slot.Group.Index];
            var buf = View(slot);
            if (state.Started[slot.Index])
            {
                buf.mul_(mu).AddInPlace(g);
            }
            else
            {
                buf.copy_(g);
                state.Started[slot.Index] = true;
                state.StartedCount++;
            }
            g = Nesterov ? g.add(buf, mu) : buf;
        }
        param.add_(g, negLr);
    }

    private Tensor View(FlatSlot slot)
    {
        var views = states[slot.Group.Index].Views;
        return views[slot.Index] ??= slot.ViewOf(states[slot.Group.Index].Buffer).DetachFromDisposeScope();
    }

    private protected override void DisposeState()
    {
        foreach (var state in states)
        {
            foreach (var view in state.Views) view?.Dispose();
            state.Buffer.Dispose();
        }
    }
}

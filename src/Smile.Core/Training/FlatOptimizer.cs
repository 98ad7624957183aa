using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// What <see cref="MomentumSgd"/> and <see cref="Adam"/> share: named parameters with a per-parameter weight-decay
/// flag and learning-rate scale, the learning rate, <see cref="ZeroGrad"/>, state by parameter name, and multi-tensor steps.
/// <para>
/// The constructor flattens the parameters (<see cref="FlatLayout"/>): each becomes a view of one buffer per
/// (device, dtype, decay flag, requires-grad flag, learning-rate scale), and the optimizer's state lives in buffers of
/// the same layout. A parameter's rate is <see cref="LearningRate"/> times its scale (<c>lrScaleOf</c>: the backbone's
/// ratio, as torch.optim's parameter groups with their own lr), so a schedule that sets the rate scales every group.
/// Build the optimizer once the models are built and on their device; weights loaded afterwards (a resume) must be
/// copied into the parameters, as StateDictLoader does. A step then gathers each group's gradients with one cat and
/// updates the whole group with a handful of kernels (on the CPU a cache-sized chunk at a time). A group in which
/// some parameter has no gradient, or whose parameters' state differs (some never stepped, Adam step counts apart), is
/// stepped parameter by parameter with the same arithmetic, skipping parameters without a gradient as torch.optim
/// does. Both paths give the same bits: the elementwise kernels compute each element alone
/// (tests/Smile.Core.Tests/Training/FlatOptimizerTests.cs).
/// </para>
/// </summary>
public abstract class FlatOptimizer : IOptimizer
{
    private readonly FlatLayout layout;
    private readonly Dictionary<string, FlatSlot> byName;
    private bool disposed;

    private protected FlatOptimizer(IEnumerable<(string Name, Parameter Param, bool Decay)> parameters, double lr, Func<string, double>? lrScaleOf = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var list = parameters.ToList();
        var duplicate = list.GroupBy(e => e.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"parameter '{duplicate.Key}' is listed twice");
        // One tensor under two names would get two places in the flat buffer, and only the last would be its storage.
        var shared = list.GroupBy(e => e.Param, ReferenceEqualityComparer.Instance).FirstOrDefault(g => g.Count() > 1);
        if (shared is not null) throw new ArgumentException($"parameters {string.Join(" and ", shared.Select(e => $"'{e.Name}'"))} are the same tensor");
        LearningRate = lr;
        layout = FlatLayout.Flatten(list, lrScaleOf);
        byName = layout.Slots.ToDictionary(s => s.Name, StringComparer.Ordinal);
    }

    public double LearningRate
    {
        get;
        set => field = value >= 0 && double.IsFinite(value)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "the learning rate must be finite and 0 or more");
    }

    /// <summary>The most elements a flat update of a CPU group takes at a time: 4 MiB of float32, so that a chunk's
    /// parameters, gradients and state stay in cache between the update's kernels.</summary>
    internal long CpuChunkElements { get; init; } = 1 << 20;

    /// <summary>How many parameter groups the last <see cref="Step"/> updated as whole buffers (the rest went
    /// parameter by parameter).</summary>
    public int LastStepFlatGroups { get; private set; }

    /// <summary>How many parameter groups there are (one per device, dtype, decay flag, requires-grad flag and learning-rate scale).</summary>
    public int GroupCount => layout.Groups.Count;

    /// <summary>The learning rate the next <see cref="Step"/> gives parameter <paramref name="name"/>: the rate times its scale.</summary>
    public double LearningRateOf(string name) =>
        byName.TryGetValue(name, out var slot) ? LearningRate * slot.Group.LrScale : throw new ArgumentException($"'{name}' is not an optimized parameter", nameof(name));

    /// <summary>The rate of one group's parameters.</summary>
    private protected double RateOf(FlatGroup group) => LearningRate * group.LrScale;

    /// <summary>One update of every parameter whose gradient is set; parameters without one are skipped (their state
    /// is left as it is), as torch.optim does.</summary>
    public void Step()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var noGrad = no_grad();
        int flat = 0;
        foreach (var group in layout.Groups)
        {
            if (TryStepFlat(group))
            {
                flat++;
                continue;
            }
            foreach (var slot in group.Slots)
            {
                // A scope per parameter frees its temporaries before the next parameter's are made, as PyTorch's
                // refcounting does (docs/PERFORMANCE.md, "A change tried: NesterovSgd frees each parameter's temporaries at once").
                using var scope = NewDisposeScope();
                var grad = slot.Param.grad;
                if (grad is not null) StepOne(slot, grad);
            }
        }
        LastStepFlatGroups = flat;
    }

    private bool TryStepFlat(FlatGroup group)
    {
        if (group.Evicted || !StateIsUniform(group) || !group.AllHaveGradients()) return false;
        BeginFlatStep(group);
        // On the CPU the update goes a cache-sized chunk at a time: its handful of kernels then reuse the chunk from
        // cache instead of each streaming the whole group through memory (docs/PERFORMANCE.md, "The optimizer a chunk
        // at a time, and channels-last weights"). Elementwise kernels give the same bits either way.
        long limit = group.Values.device_type == DeviceType.CPU ? CpuChunkElements : long.MaxValue;
        foreach (var chunk in group.Chunks(limit))
        {
            using var scope = NewDisposeScope();
            StepFlat(group, chunk, group.GatherGrads(chunk));
        }
        return true;
    }

    /// <summary>Sets every gradient to null (the next backward writes fresh ones instead of adding).</summary>
    public void ZeroGrad()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        foreach (var slot in layout.Slots)
        {
            using var grad = slot.Param.grad;
            if (grad is not null) slot.Param.grad = null;
        }
    }

    /// <summary>The optimizer's state tensors by name, as checkpoints store them (it owns them).</summary>
    public abstract IReadOnlyDictionary<string, Tensor> State { get; }

    /// <summary>Restores <see cref="State"/> saved by the same kind of optimizer (copied, onto each parameter's device
    /// and dtype); mismatches throw before anything changes.</summary>
    public abstract void LoadState(IReadOnlyDictionary<string, Tensor> saved);

    /// <summary>Forgets the state of <paramref name="parameters"/>: their next step is a first step. A parameter the
    /// optimizer does not hold throws before anything changes.</summary>
    public void ResetState(IEnumerable<Parameter> parameters)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(parameters);
        var slots = parameters.Select(p => layout.Slots.FirstOrDefault(s => ReferenceEquals(s.Param, p))
            ?? throw new ArgumentException($"a parameter of shape {ShapeText(p.shape)} is not optimized by this optimizer")).ToList();
        using var noGrad = no_grad();
        foreach (var slot in slots) ResetOne(slot);
    }

    /// <summary>Clears one parameter's state (zeros and "never stepped").</summary>
    private protected abstract void ResetOne(FlatSlot slot);

    private protected IReadOnlyList<FlatGroup> Groups => layout.Groups;

    private protected IReadOnlyList<FlatSlot> Slots => layout.Slots;

    private protected bool TryGetSlot(string name, out FlatSlot slot) => byName.TryGetValue(name, out slot!);

    private protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);

    /// <summary>"[2, 3]" for error messages.</summary>
    private protected static string ShapeText(IEnumerable<long> shape) => $"[{string.Join(", ", shape)}]";

    /// <summary>Whether every parameter of the group is at the same point of its state (so one update fits all).</summary>
    private protected abstract bool StateIsUniform(FlatGroup group);

    /// <summary>What a whole-group update does once before its chunks (Adam: count the step).</summary>
    private protected virtual void BeginFlatStep(FlatGroup group) { }

    /// <summary>Updates one chunk of the group; <paramref name="grad"/> is the chunk's gathered gradient, a temporary the
    /// update may overwrite.</summary>
    private protected abstract void StepFlat(FlatGroup group, FlatChunk chunk, Tensor grad);

    /// <summary>Updates one parameter; <paramref name="grad"/> is the parameter's own gradient, not to be changed.</summary>
    private protected abstract void StepOne(FlatSlot slot, Tensor grad);

    private protected abstract void DisposeState();

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        DisposeState();
        layout.Dispose();
        GC.SuppressFinalize(this);
    }
}

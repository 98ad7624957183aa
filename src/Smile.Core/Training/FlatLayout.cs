using System.Runtime.CompilerServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>One parameter's place in a <see cref="FlatGroup"/>: elements [Offset, Offset + Numel) of the group's buffer.</summary>
internal sealed class FlatSlot(string name, Parameter param, bool decay, FlatGroup group, int index, long offset)
{
    public string Name { get; } = name;
    public Parameter Param { get; } = param;
    public bool Decay { get; } = decay;
    public FlatGroup Group { get; } = group;
    /// <summary>Position in <see cref="FlatGroup.Slots"/>.</summary>
    public int Index { get; } = index;
    public long Offset { get; } = offset;
    public long Numel { get; } = param.numel();
    public long[] Shape { get; } = param.shape;

    /// <summary>The parameter had NHWC strides when it was flattened (CudaSpeed.WeightsToChannelsLast), and keeps them
    /// as a view of the buffer: its slot holds its elements in NHWC order.</summary>
    public bool ChannelsLast { get; } = CudaSpeed.IsChannelsLast(param);

    /// <summary>Elements of this slot's range in any buffer laid out like the group's (a new handle).</summary>
    public Tensor ViewOf(Tensor flat) => Shaped(flat.narrow(0, Offset, Numel));

    /// <summary>A 1-D range of this slot's length as the parameter: its shape, and its NHWC strides where it has them.</summary>
    public Tensor Shaped(Tensor range)
    {
        if (!ChannelsLast) return range.view(Shape);
        using var nhwc = range.view(Shape[0], Shape[2], Shape[3], Shape[1]);
        return nhwc.permute(0, 3, 1, 2);
    }

    /// <summary>A tensor of the parameter's shape as this slot's elements, in the slot's order (a view where the
    /// strides allow, a copy otherwise).</summary>
    public Tensor Flattened(Tensor value)
    {
        if (!ChannelsLast) return value.reshape(-1);
        using var nhwc = value.permute(0, 2, 3, 1);
        return nhwc.reshape(-1);
    }
}

/// <summary>Slots [From, To) of a <see cref="FlatGroup"/> and the elements of its buffers they span, padding included:
/// [Start, Start + Length).</summary>
internal readonly record struct FlatChunk(int From, int To, long Start, long Length)
{
    /// <summary>This chunk's elements of a buffer laid out like the group's (a new handle).</summary>
    public Tensor Of(Tensor flat) => flat.narrow(0, Start, Length);
}

/// <summary>Parameters of one device, dtype, decay flag, requires-grad flag and learning-rate scale, each a contiguous
/// view of <see cref="Values"/>, so that one kernel on the buffer updates all of them.</summary>
internal sealed class FlatGroup : IDisposable
{
    private readonly List<FlatSlot> slots = [];
    /// <summary>Zeros standing for the padding after each slot (null where there is none), for <see cref="GatherGrads"/>.</summary>
    private readonly List<Tensor?> padsAfter = [];
    private Tensor? zeros;
    private (long Limit, List<FlatChunk> Chunks)? chunked;

    public FlatGroup(int index, bool decay, double lrScale = 1.0) => (Index, Decay, LrScale) = (index, decay, lrScale);

    public int Index { get; }
    public bool Decay { get; }
    /// <summary>The factor on the optimizer's learning rate for these parameters (the backbone's ratio, 1 for the heads).</summary>
    public double LrScale { get; }
    public IReadOnlyList<FlatSlot> Slots => slots;
    /// <summary>The buffer the parameters are views of (the padding between them belongs to none).</summary>
    public Tensor Values { get; private set; } = null!;

    /// <summary>Set when another <see cref="FlatLayout"/> re-homed one of these parameters: the buffer no longer
    /// holds them, so whole-buffer updates must not be used.</summary>
    public bool Evicted { get; set; }

    public void Add(string name, Parameter param, bool decay, long offset) => slots.Add(new FlatSlot(name, param, decay, this, slots.Count, offset));

    /// <summary>Allocates the buffer, copies each parameter in and makes the parameter a view of it
    /// (<c>Tensor.set_</c>: the same Parameter object, so modules, autograd and anyone holding it see the new storage).</summary>
    public void Allocate(long length)
    {
        var first = slots[0].Param;
        // Owned by the group, whatever dispose scope the optimizer is built in.
        Values = torch.zeros(length, first.dtype, first.device).DetachFromDisposeScope();
        long maxPad = 0;
        for (int i = 0; i < slots.Count; i++)
            maxPad = Math.Max(maxPad, PadAfter(i));
        if (maxPad > 0) zeros = torch.zeros(maxPad, first.dtype, first.device).DetachFromDisposeScope();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        for (int i = 0; i < slots.Count; i++)
        {
            var slot = slots[i];
            var view = slot.ViewOf(Values);
            view.copy_(slot.Param);
            slot.Param.set_(view);
            long pad = PadAfter(i);
            padsAfter.Add(pad > 0 ? zeros!.narrow(0, 0, pad).DetachFromDisposeScope() : null);
        }
    }

    /// <summary>Whether every slot has a gradient; otherwise the step must skip those without, as torch.optim does.</summary>
    public bool AllHaveGradients()
    {
        foreach (var slot in slots)
        {
            using var grad = slot.Param.grad;
            if (grad is null) return false;
        }
        return true;
    }

    /// <summary>The buffer cut into runs of whole slots of at most <paramref name="maxElements"/> elements each (a
    /// larger slot alone), padding included, tiling it from start to end; worked out once per limit, not every step.</summary>
    public IReadOnlyList<FlatChunk> Chunks(long maxElements)
    {
        if (chunked is { } known && known.Limit == maxElements) return known.Chunks;
        var chunks = new List<FlatChunk>();
        for (int from = 0, to; from < slots.Count; from = to)
        {
            to = from + 1;
            while (to < slots.Count && slots[to].Offset + slots[to].Numel - slots[from].Offset <= maxElements) to++;
            long end = to < slots.Count ? slots[to].Offset : slots[to - 1].Offset + slots[to - 1].Numel;
            chunks.Add(new FlatChunk(from, to, slots[from].Offset, end - slots[from].Offset));
        }
        chunked = (maxElements, chunks);
        return chunks;
    }

    /// <summary>The gradients of a chunk's slots in one buffer laid out like the chunk of <see cref="Values"/> (one cat,
    /// padding as zeros); every slot must have one (<see cref="AllHaveGradients"/>). The result belongs to the
    /// caller's dispose scope and may be overwritten.</summary>
    public Tensor GatherGrads(FlatChunk chunk)
    {
        var pieces = new List<Tensor>((chunk.To - chunk.From) * 2);
        for (int i = chunk.From; i < chunk.To; i++)
        {
            var grad = slots[i].Param.grad ?? throw new InvalidOperationException($"'{slots[i].Name}' has no gradient");
            pieces.Add(slots[i].Flattened(grad));
            if (padsAfter[i] is { } pad) pieces.Add(pad);
        }
        return torch.cat(pieces, 0);
    }

    private long PadAfter(int i) => i + 1 < slots.Count ? slots[i + 1].Offset - (slots[i].Offset + slots[i].Numel) : 0;

    public void Dispose()
    {
        foreach (var pad in padsAfter) pad?.Dispose();
        padsAfter.Clear();
        zeros?.Dispose();
        Values?.Dispose();
    }
}

/// <summary>
/// Re-homes parameters into flat buffers, one per (device, dtype, decay flag, requires-grad flag, learning-rate scale),
/// in the order given.
/// Each parameter becomes a contiguous view starting on a 64-byte boundary (aligned loads for vectorised kernels);
/// values, Parameter objects and module registrations are unchanged. Loading weights afterwards is safe as long as it
/// copies into the parameters (StateDictLoader uses copy_); replacing a module's Parameter object, or moving the
/// module to another device or dtype, leaves the new parameter outside the buffer.
/// </summary>
internal sealed class FlatLayout : IDisposable
{
    private const int AlignBytes = 64;

    /// <summary>Where each flattened parameter lives now, for the mean teacher to mirror (<see cref="MeanTeacher"/>).</summary>
    private static readonly ConditionalWeakTable<Parameter, FlatSlot> Homes = new();

    public IReadOnlyList<FlatGroup> Groups { get; }
    public IReadOnlyList<FlatSlot> Slots { get; }

    private FlatLayout(List<FlatGroup> groups)
    {
        Groups = groups;
        Slots = groups.SelectMany(g => g.Slots).ToList();
    }

    /// <param name="lrScaleOf">Each parameter's factor on the learning rate, by name; null: 1 for every parameter.</param>
    public static FlatLayout Flatten(IReadOnlyList<(string Name, Parameter Param, bool Decay)> parameters, Func<string, double>? lrScaleOf = null)
    {
        var groups = new List<FlatGroup>();
        var byKey = new Dictionary<(DeviceType, int, ScalarType, bool, bool, double), (FlatGroup Group, long Length)>();
        foreach (var (name, param, decay) in parameters)
        {
            double scale = lrScaleOf?.Invoke(name) ?? 1.0;
            if (!(scale >= 0 && double.IsFinite(scale)))
                throw new ArgumentOutOfRangeException(nameof(lrScaleOf), scale, $"the learning-rate scale of '{name}' must be finite and 0 or more");
            var key = (param.device_type, param.device_index, param.dtype, decay, param.requires_grad, scale);
            if (!byKey.TryGetValue(key, out var entry))
            {
                entry = (new FlatGroup(groups.Count, decay, scale), 0);
                groups.Add(entry.Group);
            }
            long align = Math.Max(1, AlignBytes / param.ElementSize);
            long offset = (entry.Length + align - 1) / align * align;
            entry.Group.Add(name, param, decay, offset);
            byKey[key] = (entry.Group, offset + param.numel());
        }
        foreach (var (group, length) in byKey.Values) group.Allocate(length);

        var layout = new FlatLayout(groups);
        foreach (var slot in layout.Slots)
        {
            if (Homes.TryGetValue(slot.Param, out var previous)) previous.Group.Evicted = true;
            Homes.AddOrUpdate(slot.Param, slot);
        }
        return layout;
    }

    /// <summary>The slot a parameter was last flattened into, or null if it never was.</summary>
    public static FlatSlot? HomeOf(Parameter param) => Homes.TryGetValue(param, out var slot) ? slot : null;

    public void Dispose()
    {
        foreach (var group in Groups) group.Dispose();
    }
}

using TorchSharp;

namespace Smile.Weights.Pickle;

/// <summary>One of the few functions a state-dict pickle may name (see <see cref="TorchPickleHost"/>).</summary>
internal sealed record TorchGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>A `torch.XxxStorage` class named in a persistent id: it only carries the element type.</summary>
internal sealed record StorageType(string Name, torch.ScalarType DType)
{
    public override string ToString() => $"torch.{Name}";
}

/// <summary>A storage of the archive, "&lt;prefix&gt;/data/&lt;Key&gt;": <see cref="Numel"/> elements of <see cref="DType"/>.</summary>
internal sealed record StorageRef(string Key, torch.ScalarType DType, string Location, long Numel)
{
    public override string ToString() => $"storage '{Key}'";
}

/// <summary>A tensor still to be read: a strided view of a storage, already checked to lie inside it.</summary>
internal sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride)
{
    public long Numel => Size.Aggregate(1L, (a, b) => a * b);

    /// <summary>Whether the view is the whole storage in row-major order (then it can be read in place).</summary>
    public bool CoversWholeStorageContiguously
    {
        get
        {
            if (Offset != 0 || Numel != Storage.Numel) return false;
            long expected = 1;
            for (var d = Size.Length - 1; d >= 0; d--)
            {
                if (Size[d] != 1 && Stride[d] != expected) return false;
                expected *= Size[d];
            }
            return true;
        }
    }

    public override string ToString() => "tensor";
}

/// <summary>
/// The allow-list that makes torch.load's pickle safe to read: state dicts name only OrderedDict, the
/// tensor/parameter rebuild functions and the typed storage classes; calling them is emulated here by
/// building inert records (<see cref="TensorRef"/>, <see cref="PickleDict"/>). Every other global is refused
/// before anything could use it, so a malicious file gets an error, not an execution.
/// </summary>
internal sealed class TorchPickleHost : IPickleHost
{
    private static readonly TorchGlobal OrderedDict = new("collections", "OrderedDict");
    private static readonly TorchGlobal RebuildTensorV2 = new("torch._utils", "_rebuild_tensor_v2");
    private static readonly TorchGlobal RebuildTensor = new("torch._utils", "_rebuild_tensor");
    private static readonly TorchGlobal RebuildParameter = new("torch._utils", "_rebuild_parameter");
    private static readonly TorchGlobal RebuildParameterWithState = new("torch._utils", "_rebuild_parameter_with_state");
    private static readonly TorchGlobal[] Allowed = [OrderedDict, RebuildTensorV2, RebuildTensor, RebuildParameter, RebuildParameterWithState];

    private readonly Dictionary<string, StorageRef> _storages = [];

    public object ResolveGlobal(string module, string name)
    {
        var global = new TorchGlobal(module, name);
        if (Allowed.Contains(global)) return global;
        if (module == "torch" && name.EndsWith("Storage", StringComparison.Ordinal))
        {
            if (WeightDTypes.TryFromStorageName(name, out var dtype)) return new StorageType(name, dtype);
            throw new PickleException($"unsupported tensor storage type 'torch.{name}' (supported element types: {WeightDTypes.SupportedList})");
        }
        throw new PickleException($"refuses pickle global '{module}.{name}' (only PyTorch state dicts are read; nothing is executed)");
    }

    public object? Call(object? callable, object?[] args)
    {
        if (Equals(callable, OrderedDict)) return NewOrderedDict(args);
        if (Equals(callable, RebuildTensorV2))
        {
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]); the last
            // three only matter for autograd and hooks, which a loaded state dict does not keep.
            ExpectArgs(callable, args, 6, 7);
            return MakeTensor(args);
        }
        if (Equals(callable, RebuildTensor))
        {
            ExpectArgs(callable, args, 4, 4);
            return MakeTensor(args);
        }
        if (Equals(callable, RebuildParameter) || Equals(callable, RebuildParameterWithState))
        {
            // (data, requires_grad, backward_hooks[, state]): a state dict wants the data only.
            ExpectArgs(callable, args, Equals(callable, RebuildParameter) ? 3 : 4, Equals(callable, RebuildParameter) ? 3 : 4);
            return args[0] as TensorRef ?? throw new PickleException($"{callable}: data is a {Unpickler.Describe(args[0])}, not a tensor");
        }
        throw new PickleException($"cannot call '{Unpickler.Describe(callable)}' (only PyTorch state dicts are read; nothing is executed)");
    }

    public object? New(object? cls, object?[] args)
    {
        if (Equals(cls, OrderedDict)) return NewOrderedDict(args);
        throw new PickleException($"cannot instantiate '{Unpickler.Describe(cls)}' (only PyTorch state dicts are read; nothing is executed)");
    }

    public void Build(object? target, object? state)
    {
        // A state dict is an OrderedDict whose instance state carries `_metadata` (module versions): not needed.
        if (target is PickleDict) return;
        throw new PickleException($"cannot set the state of a {Unpickler.Describe(target)} (only PyTorch state dicts are read)");
    }

    public object? PersistentLoad(object? pid)
    {
        // ('storage', storage type, key, location, numel), as torch.serialization's persistent_id writes it.
        if (pid is not object?[] { Length: 5 } t || t[0] is not "storage")
            throw new PickleException($"unsupported persistent id {Unpickler.Describe(pid)} (expected ('storage', type, key, location, numel))");
        var type = t[1] as StorageType ?? throw new PickleException($"persistent id names a {Unpickler.Describe(t[1])} as storage type");
        var key = t[2] as string ?? throw new PickleException("persistent id has a non-string storage key");
        var location = t[3] as string ?? throw new PickleException($"storage '{key}' has a non-string location");
        var numel = ToLong(t[4], $"storage '{key}' element count");
        if (numel < 0 || WeightDTypes.ByteCount([numel], type.DType) is null)
            throw new PickleException($"storage '{key}' has an invalid element count {numel}");
        if (key.Length == 0 || key.Contains('/') || key.Contains('\\') || key.Contains(".."))
            throw new PickleException($"invalid storage key '{key}'");

        var storage = new StorageRef(key, type.DType, location, numel);
        if (_storages.TryGetValue(key, out var seen))
        {
            if (seen.DType != storage.DType || seen.Numel != storage.Numel)
                throw new PickleException($"storage '{key}' is referenced with different types or sizes");
            return seen;
        }
        _storages[key] = storage;
        return storage;
    }

    private static PickleDict NewOrderedDict(object?[] args)
    {
        var dict = new PickleDict();
        if (args.Length == 0) return dict;
        // OrderedDict([(k, v), ...]): the other spelling a pickle may use.
        if (args.Length == 1 && args[0] is List<object?> or object?[])
        {
            foreach (var item in (IEnumerable<object?>)args[0]!)
            {
                var pair = item switch { object?[] { Length: 2 } a => a, List<object?> { Count: 2 } l => l.ToArray(), _ => null }
                    ?? throw new PickleException("OrderedDict(...) with an item that is not a (key, value) pair");
                dict.Set(pair[0], pair[1]);
            }
            return dict;
        }
        throw new PickleException("OrderedDict(...) with unsupported arguments");
    }

    private static void ExpectArgs(object? callable, object?[] args, int min, int max)
    {
        if (args.Length < min || args.Length > max)
            throw new PickleException($"{callable} called with {args.Length} arguments");
    }

    /// <summary>Validates the view in managed code (sizes, strides, bounds inside the storage), so that no
    /// native call ever sees an out-of-range view.</summary>
    private static TensorRef MakeTensor(object?[] args)
    {
        var storage = args[0] as StorageRef ?? throw new PickleException($"tensor rebuilt from a {Unpickler.Describe(args[0])}, not a storage");
        var offset = ToLong(args[1], "storage offset");
        var size = ToLongs(args[2], "size");
        var stride = ToLongs(args[3], "stride");
        var where = $"tensor on storage '{storage.Key}'";
        if (size.Length != stride.Length)
            throw new PickleException($"{where}: size has {size.Length} dimensions but stride has {stride.Length}");
        if (offset < 0 || size.Any(s => s < 0) || stride.Any(s => s < 0))
            throw new PickleException($"{where}: negative offset, size or stride");
        try
        {
            var numel = checked(size.Aggregate(1L, (a, b) => checked(a * b)));
            _ = checked(numel * WeightDTypes.ElementSize(storage.DType));
            if (numel == 0)
            {
                if (offset > storage.Numel) throw new PickleException($"{where}: offset {offset} is past the storage's {storage.Numel} elements");
            }
            else
            {
                var last = offset;
                for (var d = 0; d < size.Length; d++) last = checked(last + checked((size[d] - 1) * stride[d]));
                if (last >= storage.Numel)
                    throw new PickleException($"{where}: view [{string.Join(", ", size)}] at offset {offset} reaches element {last}, past the storage's {storage.Numel} elements");
            }
        }
        catch (OverflowException)
        {
            throw new PickleException($"{where}: size or stride too large");
        }
        return new TensorRef(storage, offset, size, stride);
    }

    private static long ToLong(object? value, string what) =>
        value as long? ?? throw new PickleException($"{what} is a {Unpickler.Describe(value)}, not a 64-bit int");

    private static long[] ToLongs(object? value, string what) => value switch
    {
        object?[] tuple => tuple.Select(v => ToLong(v, what)).ToArray(),
        List<object?> list => list.Select(v => ToLong(v, what)).ToArray(),
        _ => throw new PickleException($"{what} is a {Unpickler.Describe(value)}, not a tuple of ints"),
    };
}

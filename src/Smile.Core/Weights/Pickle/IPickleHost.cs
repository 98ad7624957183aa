namespace Smile.Weights.Pickle;

/// <summary>
/// Everything in a pickle that could run code goes through the host: resolving a global name, calling it
/// (REDUCE / NEWOBJ), BUILD, and persistent ids. The <see cref="Unpickler"/> itself only moves plain data
/// (None, bool, int, float, str, bytes, tuple, list, dict) around, so a host that returns inert records
/// and refuses everything else makes unpickling a pure parse.
/// </summary>
internal interface IPickleHost
{
    /// <summary>GLOBAL / STACK_GLOBAL. Throws <see cref="PickleException"/> to refuse the name.</summary>
    object ResolveGlobal(string module, string name);

    /// <summary>REDUCE: callable(*args), where callable came from <see cref="ResolveGlobal"/> (or the stack).</summary>
    object? Call(object? callable, object?[] args);

    /// <summary>NEWOBJ: cls.__new__(cls, *args).</summary>
    object? New(object? cls, object?[] args);

    /// <summary>BUILD: target.__setstate__(state); the target stays on the stack.</summary>
    void Build(object? target, object? state);

    /// <summary>BINPERSID: the object a persistent id stands for.</summary>
    object? PersistentLoad(object? pid);
}

/// <summary>A malformed or refused pickle; the message is user-facing and has no path (the caller adds it).</summary>
internal sealed class PickleException(string message) : Exception(message);

using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// The loss of one batch: <see cref="Total"/> (call backward on it) and the weighted terms that sum to it,
/// by name ("main", "aux", "reg", "cls", "l2sp"), each a 0-dim tensor still attached to the graph, for logging.
/// The caller owns the tensors: they belong to the caller's dispose scope, if any, or to
/// <see cref="Dispose"/>.
/// </summary>
public sealed record StepLosses(Tensor Total, IReadOnlyDictionary<string, Tensor> Terms) : IDisposable
{
    public void Dispose()
    {
        Total.Dispose();
        foreach (var term in Terms.Values) term.Dispose();
    }
}

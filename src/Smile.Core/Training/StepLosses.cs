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
    /// <summary>Training accuracy of the step's own logits (0-dim, no graph): against the mixed labels
    /// (lam * acc(y) + (1 - lam) * acc(y[p])) when the batch was mixed. Free: no extra forward.</summary>
    public Tensor? Accuracy { get; init; }

    public void Dispose()
    {
        Total.Dispose();
        Accuracy?.Dispose();
        foreach (var term in Terms.Values) term.Dispose();
    }
}

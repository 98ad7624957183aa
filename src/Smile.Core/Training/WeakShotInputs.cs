using Serilog;
using Smile.Data;
using Smile.Models;
using Smile.WeakShot;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// What a SimTrans run adds to fine-tuning (docs/METHODS.md, "The main classifier"): the per-image sample weights of the
/// training folder, read from the weights CSV, and the frozen SimNet for the graph term. Both are checked
/// against the method before any work: weights or a SimNet given to a method that would ignore them is a
/// mistake the user should hear about, not a silent no-op. Owns the SimNet.
/// </summary>
public sealed class WeakShotInputs : IDisposable
{
    private readonly float[]? weights;

    /// <summary>The frozen SimNet (eval mode, no gradients), or null.</summary>
    public SimNet? SimNet { get; }

    private WeakShotInputs(float[]? weights, SimNet? simNet)
    {
        this.weights = weights;
        SimNet = simNet;
    }

    public static WeakShotInputs Load(FinetuneOptions options, IRegularizer regularizer, ImageFolder train, Device device, ILogger log)
    {
        var r = options.Regularization;
        if (options.SampleWeights is not null && !regularizer.UsesSampleWeights)
            throw new ModelConfigException($"--sample_weights is read by --regularizer simtrans (the weighted CE), not by {regularizer.Name}");
        if (r.GraphReg > 0 && !regularizer.UsesSimilarityNetwork)
            throw new ModelConfigException($"--graph_reg is a term of --regularizer simtrans, not of {regularizer.Name}");
        if (r.GraphReg > 0 && options.SimNet is null)
            throw new ModelConfigException("--graph_reg needs the SimNet whose similarities build the graph: give --simnet CHECKPOINT");
        if (options.SimNet is not null && !(r.GraphReg > 0))
            throw new ModelConfigException("--simnet is used only by the graph term: give --graph_reg ALPHA (the authors' 0.1) as well");

        float[]? weights = null;
        if (options.SampleWeights is not null)
        {
            var lookup = WeightsCsv.Lookup(options.SampleWeights, train.Samples.Select(s => s.Path).ToList());
            weights = lookup.Weights;
            log.Information("Sample weights from {File}: {Count} training images, weights {Min:F3} to {Max:F3} (mean {Mean:F3}){Ignored}",
                options.SampleWeights, weights.Length, weights.Min(), weights.Max(), weights.Average(),
                lookup.RowsNotInFolder > 0 ? $"; {lookup.RowsNotInFolder} rows name images outside the training set (a validation split's, say) and are not used" : "");
        }

        SimNet? net = null;
        if (options.SimNet is not null)
        {
            var (loaded, info, extra) = SimNetCheckpoint.Load(options.SimNet, device);
            foreach (var tensor in extra.Values) tensor.Dispose();
            foreach (var parameter in loaded.parameters()) parameter.requires_grad = false;
            net = loaded;
            if (info.ImageSize != options.ImageSize)
                log.Warning("The SimNet {File} was trained at {SimSize}x{SimSize}, this run crops {Size}x{Size}: its similarities are read off images of another scale",
                    options.SimNet, info.ImageSize, info.ImageSize, options.ImageSize, options.ImageSize);
            log.Information("SimNet {File}: {Arch} backbone, held-out F1 {F1:F3}; graph term alpha {Alpha} mu {Mu}{Alternate}",
                options.SimNet, info.Architecture, info.BestF1, r.GraphReg, r.GraphMu, r.GraphRegAlternate ? ", on odd epochs only (alternating)" : ", every batch");
        }
        return new WeakShotInputs(weights, net);
    }

    /// <summary>The weights of a batch's images (float32 on <paramref name="device"/>), or null when the run has none.</summary>
    public Tensor? BatchWeights(Batch batch, Device device) =>
        weights is null ? null : tensor(batch.Indices.Select(i => weights[i]).ToArray(), device: device);

    public void Dispose() => SimNet?.Dispose();
}

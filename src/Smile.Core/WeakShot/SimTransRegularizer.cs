using Smile.Training;
using static TorchSharp.torch;

namespace Smile.WeakShot;

/// <summary>
/// SimTrans's main-classifier loss on noisy web images (docs/METHODS.md, "The main classifier"): the weighted CE
/// (1/B) Σ w_i CE(z_i, y_i) with the SimNet's sample weights (all 1 without a weights file), plus, when α > 0,
/// α · the graph regularisation of the classifier's pooled features by the SimNet's rectified similarities of
/// the same augmented batch, plus cls_lambda · L_cls and L2-SP when enabled, as every method here. With
/// graph_reg_alternate, even epochs train with the weighted CE only and odd epochs add the graph term, the
/// authors' alternation (they also change the batch size between the two; Smile keeps one batch size).
/// The weights file and the SimNet are checked against the other settings before any work: one given without
/// what makes it count is a mistake the user should hear about, not a silent no-op.
/// </summary>
public sealed class SimTransRegularizer : IRegularizer
{
    private static readonly MethodSetting<string?> WeightsSetting = new("sample_weights",
        "Per-image weights (path,class,weight CSV of `smile simtrans weights`) for the weighted CE.", null, MethodSetting<string?>.ExistingFile) { OnlyForItsMethods = true };
    private static readonly MethodSetting<double> GraphRegSetting = new("graph_reg",
        "Weight alpha of the SimNet graph regularisation (0: off; the authors' 0.1).", 0.0, MethodSetting<double>.NonNegative) { OnlyForItsMethods = true };
    private static readonly MethodSetting<double> GraphMuSetting = new("graph_mu",
        "mu of the rectified similarity graph.", -4.0, v => v != 0 && double.IsFinite(v) ? null : "must be a finite number other than 0");
    private static readonly MethodSetting<bool> AlternateSetting = new("graph_reg_alternate",
        "The authors' alternation: the graph term on odd epochs only.", false);
    private static readonly MethodSetting<string?> SimNetSetting = new("simnet",
        "The SimNet checkpoint (`smile simtrans train-simnet`) whose similarities build the graph of graph_reg.", null, MethodSetting<string?>.ExistingFile) { OnlyForItsMethods = true };

    private string? weightsFile, simNetFile;
    private float[]? weights;
    private SimNet? simNet;

    public string Name => "simtrans";
    public string Summary => "SimTrans on web images: CE weighted by a SimNet's per-image weights, optionally its graph regularisation.";
    public IReadOnlyList<MethodSetting> Settings => [WeightsSetting, GraphRegSetting, GraphMuSetting, AlternateSetting, SimNetSetting];

    public double GraphReg { get; private set; }
    public double GraphMu { get; private set; } = GraphMuSetting.Default;
    public bool GraphRegAlternate { get; private set; }

    public void Configure(MethodValues values)
    {
        weightsFile = values.Get(WeightsSetting);
        GraphReg = values.Get(GraphRegSetting);
        GraphMu = values.Get(GraphMuSetting);
        GraphRegAlternate = values.Get(AlternateSetting);
        simNetFile = values.Get(SimNetSetting);
        if (GraphReg > 0 && simNetFile is null)
            throw new MethodSettingException(SimNetSetting.Name, "graph_reg needs the SimNet whose similarities build the graph");
        if (simNetFile is not null && !(GraphReg > 0))
            throw new MethodSettingException(SimNetSetting.Name, "is used only by the graph term: give graph_reg ALPHA (the authors' 0.1) as well");
        if (GraphRegAlternate && !(GraphReg > 0))
            throw new MethodSettingException(AlternateSetting.Name, "needs graph_reg ALPHA");
    }

    /// <summary>For code that has its SimNet in memory (tests, notebooks): the graph term's network, not owned.</summary>
    public void UseSimilarityNetwork(SimNet network) => (simNet, ownsSimNet) = (network, false);
    private bool ownsSimNet = true;

    public void Prepare(MethodSetup setup)
    {
        if (weightsFile is not null)
        {
            var lookup = WeightsCsv.Lookup(weightsFile, setup.Train.Samples.Select(s => s.Path).ToList());
            weights = lookup.Weights;
            setup.Log.Information("Sample weights from {File}: {Count} training images, weights {Min:F3} to {Max:F3} (mean {Mean:F3}){Ignored}",
                weightsFile, weights.Length, weights.Min(), weights.Max(), weights.Average(),
                lookup.RowsNotInFolder > 0 ? $"; {lookup.RowsNotInFolder} rows name images outside the training set (a validation split's, say) and are not used" : "");
        }
        if (simNetFile is not null)
        {
            var (loaded, info, extra) = SimNetCheckpoint.Load(simNetFile, setup.Device);
            foreach (var tensor in extra.Values) tensor.Dispose();
            foreach (var parameter in loaded.parameters()) parameter.requires_grad = false;
            simNet = loaded;
            ownsSimNet = true;
            if (info.ImageSize != setup.ImageSize)
                setup.Log.Warning("The SimNet {File} was trained at {SimSize}x{SimSize}, this run crops {Size}x{Size}: its similarities are read off images of another scale",
                    simNetFile, info.ImageSize, info.ImageSize, setup.ImageSize, setup.ImageSize);
            setup.Log.Information("SimNet {File}: {Arch} backbone, held-out F1 {F1:F3}; graph term alpha {Alpha} mu {Mu}{Alternate}",
                simNetFile, info.Architecture, info.BestF1, GraphReg, GraphMu, GraphRegAlternate ? ", on odd epochs only (alternating)" : ", every batch");
        }
    }

    public Tensor? SampleWeights(IReadOnlyList<int> indices, Device device) =>
        weights is null ? null : tensor(indices.Select(i => weights[i]).ToArray(), device: device);

    /// <summary>Whether the graph term is on for a batch of <paramref name="epoch"/>.</summary>
    public bool GraphActive(int epoch) => GraphReg > 0 && (!GraphRegAlternate || epoch % 2 == 1);

    public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(batch);
        var (images, labels) = (batch.Images, batch.Labels);
        using var scope = NewDisposeScope();
        var output = ctx.Student.call(images);
        // (1/B) Σ w_i CE_i with the sample weights (WeightedCrossEntropy's formula), and class weights when the run has them.
        var main = LossTerms.CrossEntropy(ctx, output.Logits, labels, batch.Weights);
        var terms = new List<(string, Tensor)>
        {
            ("main", main),
            ("cls", LossTerms.ClassifierL2(ctx).Times(ctx.Options.ClsLambda)),
        };
        if (GraphActive(batch.Epoch))
        {
            var network = simNet ?? throw new InvalidOperationException("the graph term needs the SimNet (call Prepare)");
            var similarity = network.BatchSimilarity(images);
            terms.Add(("graph", GraphRegularization.Loss(SimNet.PooledFeatures(output), similarity, GraphMu).Times(GraphReg)));
        }
        L2SpTerm.AddIfEnabled(ctx, terms);
        return LossTerms.Finish(terms, LossTerms.Accuracy(output.Logits, labels));
    }

    public void Dispose()
    {
        if (ownsSimNet) simNet?.Dispose();
        simNet = null;
    }
}

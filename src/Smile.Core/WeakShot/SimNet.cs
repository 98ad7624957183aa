using Smile.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.WeakShot;

/// <summary>What <see cref="SimNet"/> returns for a batch of B images: the pair logits (B² x 2) and relation
/// features (B² x D') of <see cref="PairHead"/>, and the pooled backbone features (B x D). The caller owns all three.</summary>
public sealed record SimNetOutput(Tensor PairLogits, Tensor Relation, Tensor Features);

/// <summary>
/// SimTrans's similarity network (docs/METHODS.md, "SimNet"): a classifier backbone (started from the
/// base-class classifier) whose last feature map is average-pooled to f, and the <see cref="PairHead"/> on all
/// ordered pairs of a batch. State-dict names are <c>backbone.*</c> (the classifier's own, its head included,
/// so a base checkpoint loads strictly) and <c>head.*</c>.
/// </summary>
public sealed class SimNet : nn.Module<Tensor, SimNetOutput>
{
    private readonly ImageClassifier backbone;
    private readonly PairHead head;

    public ImageClassifier Backbone => backbone;
    public PairHead Head => head;

    /// <param name="relationDim">Width of the relation feature; null: the backbone's feature width (the paper's
    /// 2048 for a ResNet-50).</param>
    public SimNet(ImageClassifier backbone, int? relationDim = null) : base("simnet")
    {
        this.backbone = backbone ?? throw new ArgumentNullException(nameof(backbone));
        head = new PairHead(backbone.FeatureChannels, relationDim ?? backbone.FeatureChannels);
        RegisterComponents();
    }

    public override SimNetOutput forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var features = PooledFeatures(images);
        var pairs = head.call(features);
        return new SimNetOutput(pairs.Logits.MoveToOuterDisposeScope(), pairs.Relation.MoveToOuterDisposeScope(), features.MoveToOuterDisposeScope());
    }

    /// <summary>The backbone's last feature map, averaged over height and width (B x D).</summary>
    public Tensor PooledFeatures(Tensor images)
    {
        using var scope = NewDisposeScope();
        return PooledFeatures(backbone.call(images)).MoveToOuterDisposeScope();
    }

    /// <summary>The pooled feature of a classifier's forward: the average of its last feature map over H and W.</summary>
    public static Tensor PooledFeatures(ClassifierOutput output) => output.Features.mean([2L, 3L]);

    /// <summary>
    /// S (m x n): S_ab = P(same class | [rows_a ; columns_b]) from pooled features, without gradient. Call in eval
    /// mode: BatchNorm then uses running statistics, so scoring in chunks of <paramref name="chunkRows"/> rows
    /// gives the same matrix as one pass, in bounded memory (a class of 300 web images is 90,000 pairs).
    /// </summary>
    public Tensor Similarity(Tensor rows, Tensor columns, int chunkRows = 32)
    {
        if (chunkRows < 1) throw new ArgumentOutOfRangeException(nameof(chunkRows), chunkRows, "must be at least 1");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        long m = rows.shape[0], n = columns.shape[0];
        var parts = new List<Tensor>();
        for (long start = 0; start < m; start += chunkRows)
        {
            long count = Math.Min(chunkRows, m - start);
            var logits = head.ForwardPairs(PairHead.CrossPairs(rows.narrow(0, start, count), columns)).Logits;
            parts.Add(logits.softmax(1).select(1, 1).reshape(count, n));
        }
        return cat(parts, 0).MoveToOuterDisposeScope();
    }

    /// <summary>The similarity matrix of a batch of images (B x B), in eval mode without gradient; the mode the
    /// network was in is restored.</summary>
    public Tensor BatchSimilarity(Tensor images)
    {
        bool wasTraining = training;
        eval();
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var features = PooledFeatures(images);
            return Similarity(features, features).MoveToOuterDisposeScope();
        }
        finally
        {
            if (wasTraining) train();
        }
    }
}

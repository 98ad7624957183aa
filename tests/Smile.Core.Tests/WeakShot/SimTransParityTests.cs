using System.Text.Json;
using Smile.WeakShot;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.WeakShot;

/// <summary>SimTrans's pair head, sample weights, weighted CE and graph regulariser against PyTorch
/// (python/simtrans_reference.py) on the same numbers, values and gradients to 1e-5.</summary>
public sealed class SimTransParityTests
{
    private const double Tolerance = 1e-5;
    private static readonly Lazy<JsonElement> Reference = new(() => JsonDocument.Parse(PythonRunner.Run("simtrans_reference.py")).RootElement);

    private static JsonElement Ref(string name) => Reference.Value.GetProperty(name);

    private static double[] Flat(JsonElement e) => e.ValueKind == JsonValueKind.Array
        ? e.EnumerateArray().SelectMany(Flat).ToArray()
        : [e.GetDouble()];

    private static Tensor Matrix(JsonElement rows) =>
        tensor(Flat(rows).Select(v => (float)v).ToArray(), [rows.GetArrayLength(), rows[0].GetArrayLength()]);

    private static Tensor Longs(JsonElement e) => tensor(e.EnumerateArray().Select(v => v.GetInt64()).ToArray());

    private static void AssertClose(JsonElement expected, Tensor actual, string what) => AssertClose(Flat(expected), actual, what);

    private static void AssertClose(double[] want, Tensor actual, string what)
    {
        var got = actual.detach().to(ScalarType.Float64).data<double>().ToArray();
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++)
            Assert.True(Math.Abs(want[i] - got[i]) <= Tolerance, $"{what}[{i}]: {got[i]} vs PyTorch {want[i]}");
    }

    /// <summary>A small PairHead with the reference's weights and BatchNorm statistics.</summary>
    private static PairHead LoadedHead()
    {
        var state = Ref("pair").GetProperty("state");
        var head = new PairHead(featureDim: 6, relationDim: 4);
        var own = head.state_dict();
        Assert.Equal(state.EnumerateObject().Select(p => p.Name).Order(), own.Keys.Order());
        using var noGrad = no_grad();
        foreach (var p in state.EnumerateObject())
        {
            if (p.Name.EndsWith("num_batches_tracked", StringComparison.Ordinal)) continue;
            using var values = tensor(Flat(p.Value.GetProperty("values")).Select(v => (float)v).ToArray(),
                p.Value.GetProperty("shape").EnumerateArray().Select(v => v.GetInt64()).ToArray());
            own[p.Name].copy_(values);
        }
        return head;
    }

    private static void AssertHeadMatches(PairHead head, JsonElement expected, string mode)
    {
        using var scope = NewDisposeScope();
        var f = Matrix(Ref("pair").GetProperty("features")).requires_grad_(true);
        var output = head.call(f);
        AssertClose(expected.GetProperty("logits"), output.Logits, $"{mode} logits");
        AssertClose(expected.GetProperty("relation"), output.Relation, $"{mode} relation");
        AssertClose(expected.GetProperty("similarity"), PairHead.Similarity(output.Logits, f.shape[0]), $"{mode} S");
        var loss = PairHead.PairLoss(output.Logits, Longs(Ref("pair").GetProperty("labels")));
        Assert.Equal(expected.GetProperty("loss").GetDouble(), loss.item<float>(), Tolerance);
        loss.backward();
        AssertClose(expected.GetProperty("grad"), f.grad!, $"{mode} dL/df");
    }

    [Fact]
    public void PairHeadMatchesItsPyTorchTwinInEvalMode()
    {
        using var head = LoadedHead();
        head.eval();
        AssertHeadMatches(head, Ref("pair").GetProperty("eval"), "eval");
    }

    [Fact]
    public void PairHeadMatchesItsPyTorchTwinInTrainModeIncludingTheRunningStatistics()
    {
        using var head = LoadedHead();
        head.train();
        AssertHeadMatches(head, Ref("pair").GetProperty("train"), "train");
        var state = head.state_dict();
        foreach (var p in Ref("pair").GetProperty("train").GetProperty("running").EnumerateObject())
            AssertClose(p.Value, state[p.Name], p.Name);
    }

    [Fact]
    public void PairsAreOrderedRowAtimesBplusB()
    {
        using var scope = NewDisposeScope();
        var pairs = PairHead.Pairs(tensor(new float[] { 1, 2, 3, 4, 5, 6 }, [3, 2]));
        Assert.Equal([9L, 4L], pairs.shape);
        // row 1*3 + 2 = [f_1 ; f_2], row 2*3 + 1 = [f_2 ; f_1]
        Assert.Equal(new float[] { 3, 4, 5, 6 }, pairs[5].data<float>().ToArray());
        Assert.Equal(new float[] { 5, 6, 3, 4 }, pairs[7].data<float>().ToArray());
        Assert.Equal(new long[] { 1, 0, 1, 0, 1, 0, 1, 0, 1 }, PairHead.PairLabels(tensor(new long[] { 4, 7, 4 })).data<long>().ToArray());
    }

    [Fact]
    public void ThePaperSizedHeadHasThePapersShapes()
    {
        using var head = new PairHead();
        var shapes = head.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal([4096L, 4096L], shapes["fc1.weight"]);
        Assert.Equal([2048L, 4096L], shapes["fc2.weight"]);
        Assert.Equal([2048L, 2048L], shapes["fc3.weight"]);
        Assert.Equal([2L, 2048L], shapes["fc4.weight"]);
    }

    [Fact]
    public void SampleWeightsMatchTheFormulaInPython()
    {
        var reference = Ref("weights");
        var rows = reference.GetProperty("S");
        int n = rows.GetArrayLength();
        var s = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) s[i, j] = rows[i][j].GetDouble();
        foreach (var (mode, key) in new[] { (SampleWeightMode.Avg, "avg"), (SampleWeightMode.Savg, "savg") })
        {
            var w = SampleWeights.Compute(s, mode);
            Assert.Equal(1.0, w.Average(), 12);
            var want = Flat(reference.GetProperty(key));
            for (int i = 0; i < n; i++) Assert.Equal(want[i], w[i], 12);
        }
    }

    [Fact]
    public void SavgDiffersFromAvgWhenSIsNotSymmetric()
    {
        var s = new double[,] { { 1.0, 0.9 }, { 0.1, 1.0 } };
        // raw avg 0.95 and 0.55, mean 0.75; savg is 1 for both since each row sum pairs with the other's column sum
        Assert.Equal(new[] { Math.Round(0.95 / 0.75, 12), Math.Round(0.55 / 0.75, 12) }, SampleWeights.Compute(s, SampleWeightMode.Avg).Select(v => Math.Round(v, 12)));
        Assert.Equal(new[] { 1.0, 1.0 }, SampleWeights.Compute(s, SampleWeightMode.Savg).Select(v => Math.Round(v, 12)));
    }

    [Fact]
    public void WeightedCrossEntropyDividesByTheBatchSizeAndMatchesPyTorch()
    {
        using var scope = NewDisposeScope();
        var reference = Ref("wce");
        var z = Matrix(reference.GetProperty("logits")).requires_grad_(true);
        var weights = tensor(Flat(reference.GetProperty("weights")).Select(v => (float)v).ToArray());
        var loss = WeightedCrossEntropy.Loss(z, Longs(reference.GetProperty("labels")), weights);
        Assert.Equal(reference.GetProperty("loss").GetDouble(), loss.item<float>(), Tolerance);
        loss.backward();
        AssertClose(reference.GetProperty("grad"), z.grad!, "dL/dz");
    }

    [Fact]
    public void GraphRegularizationMatchesPyTorchForEachMu()
    {
        var reference = Ref("graph");
        foreach (var c in reference.GetProperty("cases").EnumerateArray())
        {
            using var scope = NewDisposeScope();
            double mu = c.GetProperty("mu").GetDouble();
            var a = Matrix(reference.GetProperty("A")).requires_grad_(true);
            var f = Matrix(reference.GetProperty("features")).requires_grad_(true);
            AssertClose(c.GetProperty("rectified"), GraphRegularization.Rectify(a, mu), $"A' (mu {mu})");
            var loss = GraphRegularization.Loss(f, a, mu);
            Assert.Equal(c.GetProperty("loss").GetDouble(), loss.item<float>(), Tolerance);
            loss.backward();
            AssertClose(c.GetProperty("grad"), f.grad!, $"dL/df (mu {mu})");
            Assert.Null(a.grad); // A is a target, not something to train
        }
    }

    [Fact]
    public void RectificationKeepsZeroAndOneAndBoostsTheMiddle()
    {
        using var scope = NewDisposeScope();
        var r = GraphRegularization.Rectify(tensor(new double[] { 0, 0.5, 1 })).data<double>().ToArray();
        Assert.Equal(0.0, r[0], 12);
        Assert.Equal(1.0, r[2], 12);
        Assert.Equal((Math.Exp(-2) - 1) / (Math.Exp(-4) - 1), r[1], 12);
        Assert.True(r[1] > 0.85); // mid values boosted
    }
}

using Smile.Models;
using Smile.Tests.Models;
using Smile.Methods;
using Smile.Training;
using Smile.WeakShot;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.WeakShot;

/// <summary>The SimNet module, its checkpoint, and the simtrans regularizer built on it.</summary>
public sealed class SimNetTests
{
    private static SimNet SmallNet(int seed = 3)
    {
        torch.random.manual_seed(seed);
        return new SimNet(ModelFactory.Create("resnet18", 4), relationDim: 16);
    }

    [Fact]
    public void Similarity_in_row_chunks_equals_the_head_on_all_pairs_at_once()
    {
        using var net = SmallNet();
        net.eval();
        using var scope = NewDisposeScope();
        var features = randn(7, 512);
        var whole = PairHead.Similarity(net.Head.call(features).Logits, 7);
        foreach (int chunk in new[] { 1, 3, 7, 50 })
            TensorAssert.Close(whole, net.Similarity(features, features, chunk), $"chunk {chunk}", 1e-6);
        // Not symmetric: the head sees [f_a ; f_b] in order.
        Assert.True((whole - whole.t()).abs().max().item<float>() > 1e-6);
    }

    [Fact]
    public void BatchSimilarity_runs_in_eval_mode_and_restores_the_mode()
    {
        using var net = SmallNet();
        net.train();
        using var scope = NewDisposeScope();
        var images = randn(5, 3, 32, 32);
        var s = net.BatchSimilarity(images);
        Assert.True(net.training);
        Assert.Equal([5L, 5L], s.shape);
        Assert.False(s.requires_grad);
        net.eval();
        var features = net.PooledFeatures(images);
        TensorAssert.Close(net.Similarity(features, features), s, "batch similarity", 1e-6);
        var values = s.data<float>().ToArray();
        Assert.All(values, v => Assert.InRange(v, 0f, 1f));
    }

    [Fact]
    public void Checkpoint_round_trip_keeps_weights_info_and_extra_tensors()
    {
        var dir = Directory.CreateTempSubdirectory("smile-simnet-").FullName;
        try
        {
            var path = Path.Combine(dir, "net.safetensors");
            using var net = SmallNet();
            var info = new SimNetInfo("resnet18", ["a", "b", "c", "d"], 16, 32, [0.5f, 0.5f, 0.5f], [0.2f, 0.2f, 0.2f], 7, 0.625,
                new Dictionary<string, string> { ["lr"] = "0.005" });
            using var momentum = ones(3);
            SimNetCheckpoint.Save(path, net, info, new Dictionary<string, Tensor> { ["optimizer.momentum.x"] = momentum });

            var (loaded, readInfo, extra) = SimNetCheckpoint.Load(path, CPU);
            using (loaded)
            {
                Assert.Equal(info.BaseClasses, readInfo.BaseClasses);
                Assert.Equal((7, 0.625, 16, 32, "0.005"), (readInfo.Epoch, readInfo.BestF1, readInfo.RelationDim, readInfo.ImageSize, readInfo.Arguments["lr"]));
                Assert.Equal(["optimizer.momentum.x"], extra.Keys);
                foreach (var t in extra.Values) t.Dispose();
                Assert.False(loaded.training);
                var mine = net.state_dict();
                foreach (var (name, tensor) in loaded.state_dict())
                    Assert.True(tensor.allclose(mine[name], rtol: 0, atol: 0), name);
            }

            // A classifier checkpoint is not a SimNet: one clear error that names the file.
            var classifier = Path.Combine(dir, "classifier.safetensors");
            Checkpoint.Save(classifier, net.Backbone, new CheckpointInfo("resnet18", ["a", "b", "c", "d"], null, 32,
                [0.5f, 0.5f, 0.5f], [0.2f, 0.2f, 0.2f], 0, 0, "l2", new Dictionary<string, string>()));
            var e = Assert.Throws<WeightFileException>(() => SimNetCheckpoint.Load(classifier, CPU));
            Assert.Contains("classifier.safetensors", e.Message);
            Assert.Contains("not a SimNet", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Simtrans_loss_is_the_weighted_CE_plus_alpha_times_the_graph_term_on_odd_epochs_when_alternating()
    {
        torch.random.manual_seed(11);
        using var student = ModelFactory.Create("resnet18", 3);
        using var simnet = SmallNet(5);
        simnet.eval();
        using var ctx = new TrainingContext(student, null, new LossOptions(ClsLambda: 0.0));
        using var scope = NewDisposeScope();
        var images = randn(6, 3, 32, 32);
        var labels = tensor(new long[] { 0, 1, 2, 0, 1, 2 });
        var weights = tensor(new float[] { 2.5f, 0.1f, 1f, 1f, 0.4f, 1f });
        var values = new MethodValues().With("graph_reg", 0.5).With("graph_reg_alternate", true).With("simnet", Path.GetTempFileName());
        using var regularizer = (SimTransRegularizer)Regularizers.Configure("simtrans", values);
        regularizer.UseSimilarityNetwork(simnet);
        student.eval(); // deterministic forward: BatchNorm with running statistics, so two calls give the same logits

        var plainEpoch = regularizer.Loss(ctx, new StepBatch(images, labels) { Weights = weights, Epoch = 0 }, null);
        var graphEpoch = regularizer.Loss(ctx, new StepBatch(images, labels) { Weights = weights, Epoch = 1 }, null);

        var output = student.call(images);
        var weighted = WeightedCrossEntropy.Loss(output.Logits, labels, weights);
        var graph = GraphRegularization.Loss(SimNet.PooledFeatures(output), simnet.BatchSimilarity(images), -4.0).Times(0.5);
        Assert.DoesNotContain("graph", plainEpoch.Terms.Keys);
        TensorAssert.Close(weighted, plainEpoch.Terms["main"], "main, even epoch", 1e-6);
        TensorAssert.Close(weighted, graphEpoch.Terms["main"], "main, odd epoch", 1e-6);
        TensorAssert.Close(graph, graphEpoch.Terms["graph"], "graph, odd epoch", 1e-6);
        TensorAssert.Close(weighted.Plus(graph), graphEpoch.Total, "total", 1e-6);
        Assert.True(graph.item<float>() > 0);

        // Without weights the main term is the plain CE.
        var unweighted = regularizer.Loss(ctx, new StepBatch(images, labels), null);
        TensorAssert.Close(nn.functional.cross_entropy(output.Logits, labels), unweighted.Terms["main"], "unweighted", 1e-6);
    }

    [Fact]
    public void Only_simtrans_gives_sample_weights_and_its_inputs_are_refused_elsewhere()
    {
        foreach (var name in Regularizers.Names)
        {
            using var r = Regularizers.Create(name);
            Assert.Equal(name == "simtrans", r.Settings.Any(s => s.Name == "sample_weights"));
            Assert.Null(r.SampleWeights([0, 1], CPU));
        }
        var error = Assert.Throws<MethodSettingException>(() => Regularizers.Configure("l2", new MethodValues().With("graph_reg", 0.1)));
        Assert.Equal("graph_reg", error.Setting);
        Assert.Equal("is used only by the simtrans method, not by l2", error.Problem);
    }
}

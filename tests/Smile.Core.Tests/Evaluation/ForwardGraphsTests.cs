using Smile.Evaluation;
using Smile.Models;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Evaluation;

/// <summary>The evaluation's forward replayed per batch shape (Evaluation/ForwardGraphs.cs), with the CPU stand-in graph
/// that runs the recorded forward again: every batch's outputs are the eager ones, the second batch of a shape is
/// captured and the later ones replayed, and a failing capture leaves the rest eager with one warning.</summary>
public sealed class ForwardGraphsTests
{
    private sealed class FailingGraph : IStepGraph
    {
        public void Capture(Action body) => throw new InvalidOperationException("operation not permitted when stream is capturing");
        public void Replay() => throw new InvalidOperationException("nothing captured");
        public void Warm(Action step) => step();
        public void Dispose() { }
    }

    [Fact]
    public void ReplayedForwardsGiveTheEagerOutputsBatchByBatch()
    {
        using var scope = NewDisposeScope();
        using var model = ModelFactory.Create("resnet18", 3);
        model.eval();
        using var folded = new FoldedResNet((ResNet)model);
        using var noGrad = no_grad();
        var batches = new[] { 4, 4, 4, 2, 4 }.Select((n, i) => randn([n, 3, 32, 32], generator: new Generator((ulong)i))).ToArray();
        var warnings = new List<string>();
        using var graphs = new ForwardGraphs(folded.Forward, new EvalReplay(() => new RerunStepGraph(), warnings.Add));
        foreach (var x in batches)
        {
            var expected = folded.Forward(x);
            var actual = graphs.Forward(x);
            Assert.True(expected.Logits.equal(actual.Logits).all().item<bool>());
            Assert.True(expected.Features.equal(actual.Features).all().item<bool>());
        }
        Assert.Equal(3, graphs.Replays); // batches 2, 3 and 5 (the shape of 4); the one batch of 2 stays eager
        Assert.Empty(warnings);

        using var failing = new ForwardGraphs(folded.Forward, new EvalReplay(() => new FailingGraph(), warnings.Add));
        foreach (var x in batches)
            Assert.True(folded.Forward(x).Logits.equal(failing.Forward(x).Logits).all().item<bool>());
        Assert.Equal(0, failing.Replays);
        Assert.Equal(["CUDA graphs: capturing the evaluation's forward failed (operation not permitted when stream is capturing); it runs eagerly"], warnings);
    }
}

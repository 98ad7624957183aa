using Smile.Models;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Evaluation;

/// <summary>How an evaluation replays its forward: the graph backend (<see cref="CudaSpeed.GraphBackend"/>) and where its
/// one warning goes.</summary>
public sealed record EvalReplay(Func<IStepGraph> NewGraph, Action<string> Warn);

/// <summary>
/// An evaluation's forward replayed from a graph, one per batch shape (docs/GPU.md, "The step as a CUDA graph"): the
/// first batch of a shape runs eagerly (cuDNN's autotuning happens there), the second is captured on a static copy and
/// replayed, and so is every later batch of that shape; a shape seen once (the last, smaller batch) stays eager. The
/// graphs live as long as this object: one evaluation, whose folded weights they read. A capture that fails leaves
/// the rest of the evaluation eager, with one warning.
/// </summary>
public sealed class ForwardGraphs(Func<Tensor, ClassifierOutput> forward, EvalReplay replay) : IDisposable
{
    private sealed class Shape : IDisposable
    {
        public IStepGraph? Graph;
        public Tensor? Input;
        public ClassifierOutput? Output { get; private set; }

        /// <summary>Keeps <paramref name="output"/> as the graph's outputs, freeing the ones before (a backend that runs the
        /// code at every replay hands new outputs each time).</summary>
        public void Keep(ClassifierOutput output)
        {
            FreeOutput();
            Output = output;
        }

        private void FreeOutput()
        {
            Output?.Logits.Dispose();
            Output?.Features.Dispose();
            Output?.AuxLogits?.Dispose();
        }

        public void Dispose()
        {
            Graph?.Dispose();
            Input?.Dispose();
            FreeOutput();
        }
    }

    private readonly Dictionary<string, Shape> shapes = new(StringComparer.Ordinal);
    private bool failed;

    /// <summary>How many forwards were replayed.</summary>
    public int Replays { get; private set; }

    /// <summary>The forward of <paramref name="images"/>: the outputs are new handles in the caller's dispose scope (on a
    /// replay, aliases of the graph's outputs, which the next replay of that shape overwrites).</summary>
    public ClassifierOutput Forward(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        string key = $"{string.Join('x', images.shape)}/{string.Join(',', images.stride())}/{images.dtype}";
        if (!shapes.TryGetValue(key, out var shape)) shapes[key] = shape = new Shape();
        if (failed) return forward(images);
        if (shape.Graph is null)
        {
            // The first batch of a shape runs eagerly where the capture will run (CUDA's capture stream).
            if (!TryNewGraph(shape)) return forward(images);
            ClassifierOutput? eager = null;
            shape.Graph!.Warm(() => eager = forward(images));
            return eager!;
        }
        if (shape.Output is null && !TryCapture(shape, images)) return forward(images);
        shape.Input!.copy_(images);
        shape.Graph!.Replay();
        Replays++;
        var o = shape.Output!;
        return new ClassifierOutput(o.Logits.alias(), o.Features.alias(), o.AuxLogits?.alias());
    }

    private bool TryNewGraph(Shape shape)
    {
        try
        {
            shape.Graph = replay.NewGraph();
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Fail(shape, e);
            return false;
        }
    }

    private void Fail(Shape shape, Exception e)
    {
        shape.Graph?.Dispose();
        shape.Graph = null;
        failed = true;
        replay.Warn($"CUDA graphs: capturing the evaluation's forward failed ({e.Message.Split('\n')[0]}); it runs eagerly");
    }

    private bool TryCapture(Shape shape, Tensor images)
    {
        try
        {
            shape.Input = images.clone().DetachFromDisposeScope();
            shape.Graph!.Capture(() =>
            {
                using var scope = NewDisposeScope();
                var o = forward(shape.Input);
                shape.Keep(new ClassifierOutput(o.Logits.DetachFromDisposeScope(), o.Features.DetachFromDisposeScope(), o.AuxLogits?.DetachFromDisposeScope()));
            });
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Fail(shape, e);
            return false;
        }
    }

    public void Dispose()
    {
        foreach (var shape in shapes.Values) shape.Dispose();
        shapes.Clear();
    }
}

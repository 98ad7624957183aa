using System.Diagnostics;
using Smile.Models;
using TorchSharp;
using static TorchSharp.torch;
using Module = TorchSharp.torch.nn.Module;
using Layer = TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>;

namespace Smile.Bench;

/// <summary>Milliseconds of one block: forward in train mode with autograd on, backward from a fixed upstream
/// gradient, and forward in eval mode without a graph.</summary>
public sealed record BlockTiming(double ForwardMs, double BackwardMs, double EvalMs);

/// <summary>Milliseconds of one operation of a block on its own; <see cref="BackwardMs"/> is NaN where the backward is
/// not run.</summary>
public sealed record OpTiming(string Name, double ForwardMs, double BackwardMs);

/// <summary>
/// The ResNet of the SMILE student (200 classes, a 1000-class aux head, train mode) cut into blocks, each timed on its
/// own: the stem (conv1, bn1, relu, maxpool), every residual block of layer1..layer4, and avgpool + fc + aux_fc. Each
/// block's input is what the previous block made of one random batch; the stem's input does not require grad (the
/// images never do), every later block's does. The PyTorch side (torch_profile.py) cuts torchvision's ResNet the same
/// way, so the two can be timed alternately, block by block.
/// </summary>
public sealed class BlockProfile : IDisposable
{
    private sealed record Block(string Name, Func<Tensor, Tensor[]> Forward, Module[] Modules, Tensor Input, Tensor[] Grads);

    private sealed record Op(string Name, Func<Tensor[], Tensor> Forward, Tensor[] Inputs, Tensor Grad, bool Backward);

    private readonly ResNet model;
    private readonly List<Block> blocks = new();
    private readonly Dictionary<string, List<Op>> ops = new(StringComparer.Ordinal);

    public BlockProfile(string arch, int imageSize, int batchSize)
    {
        torch.random.manual_seed(1);
        model = ModelFactory.Create(arch, 200, 1000) as ResNet
            ?? throw new ArgumentException($"the block profile cuts ResNets; {arch} is not one", nameof(arch));
        model.train();
        var children = model.named_children().ToDictionary(c => c.name, c => c.module, StringComparer.Ordinal);
        Layer Child(string name) => (Layer)children[name];
        var (conv1, bn1, maxpool, fc, auxFc) = (Child("conv1"), Child("bn1"), Child("maxpool"), Child("fc"), Child("aux_fc"));

        var cut = new List<(string, Func<Tensor, Tensor[]>, Module[])>
        {
            ("stem", x => [maxpool.call(bn1.call(conv1.call(x)).relu_())], [conv1, bn1]),
        };
        for (int layer = 1; layer <= 4; layer++)
            foreach (var (index, block) in children[$"layer{layer}"].named_children())
                cut.Add(($"layer{layer}.{index}", x => [((Layer)block).call(x)], [block]));
        // ResNet.forward's head: the mean over H and W, then both classifiers.
        cut.Add(("avgpool+fc", f => { var pooled = f.mean([2, 3]); return [fc.call(pooled), auxFc.call(pooled)]; }, [fc, auxFc]));

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var input = randn(batchSize, 3, imageSize, imageSize);
        foreach (var (name, forward, modules) in cut)
        {
            var outputs = forward(input);
            var kept = input.clone().requires_grad_(blocks.Count > 0).DetachFromDisposeScope();
            blocks.Add(new Block(name, forward, modules, kept, outputs.Select(o => randn_like(o).DetachFromDisposeScope()).ToArray()));
            input = outputs[0];
        }
    }

    public IReadOnlyList<string> BlockNames => blocks.Select(b => b.Name).ToList();

    /// <summary>One forward + backward (train mode) and one eval-mode forward of block <paramref name="index"/>.</summary>
    public BlockTiming Measure(int index)
    {
        var block = blocks[index];
        using var scope = NewDisposeScope();
        ClearGrads(block.Input);
        long t0 = Stopwatch.GetTimestamp();
        var outputs = block.Forward(block.Input);
        long t1 = Stopwatch.GetTimestamp();
        autograd.backward(outputs, block.Grads);
        long t2 = Stopwatch.GetTimestamp();
        foreach (var m in block.Modules) m.eval();
        long t3, t4;
        using (no_grad())
        {
            var detached = block.Input.detach();
            t3 = Stopwatch.GetTimestamp();
            block.Forward(detached);
            t4 = Stopwatch.GetTimestamp();
        }
        foreach (var m in block.Modules) m.train();
        ClearGrads(block.Input);
        return new BlockTiming(Ms(t0, t1), Ms(t1, t2), Ms(t3, t4));
    }

    /// <summary>The operations of the stem or of residual block <paramref name="name"/> ("layer3.0"), each run and timed on its own
    /// input (forward and backward), in the order the block runs them.</summary>
    public IReadOnlyList<OpTiming> MeasureOps(string name)
    {
        var list = OpsOf(name);
        var result = new List<OpTiming>();
        foreach (var op in list)
        {
            using var scope = NewDisposeScope();
            foreach (var t in op.Inputs) ClearGrads(t);
            long t0 = Stopwatch.GetTimestamp();
            var output = op.Forward(op.Inputs);
            long t1 = Stopwatch.GetTimestamp();
            if (op.Backward) output.backward([op.Grad]);
            long t2 = Stopwatch.GetTimestamp();
            result.Add(new OpTiming(op.Name, Ms(t0, t1), op.Backward ? Ms(t1, t2) : double.NaN));
        }
        return result;
    }

    private List<Op> OpsOf(string name)
    {
        if (ops.TryGetValue(name, out var cached)) return cached;
        var block = blocks.FirstOrDefault(b => b.Name == name) ?? throw new ArgumentException($"no block {name}", nameof(name));
        bool stem = name == "stem";
        Dictionary<string, Module> parts;
        string[] chain;
        if (stem)
        {
            parts = model.named_children().ToDictionary(c => c.name, c => c.module, StringComparer.Ordinal);
            chain = ["conv1", "bn1", "relu", "maxpool"];
        }
        else
        {
            if (block.Modules is not [var residual] || residual is not (Bottleneck or BasicBlock))
                throw new ArgumentException($"{name} is neither the stem nor a residual block", nameof(name));
            parts = residual.named_children().ToDictionary(c => c.name, c => c.module, StringComparer.Ordinal);
            chain = parts.ContainsKey("conv3")
                ? ["conv1", "bn1", "relu", "conv2", "bn2", "relu", "conv3", "bn3"]
                : ["conv1", "bn1", "relu", "conv2", "bn2"];
        }

        var list = new List<(string Name, Func<Tensor[], Tensor> Forward, Tensor[] Inputs, bool Backward)>();
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            var x0 = block.Input.detach();
            var y = x0;
            for (int k = 0; k < chain.Length; k++)
            {
                // Out of place: the block's in-place relu_ cannot run on a leaf that requires grad.
                Func<Tensor[], Tensor> f;
                if (chain[k] == "relu") f = t => t[0].relu();
                else
                {
                    var layer = (Layer)parts[chain[k]];
                    f = t => layer.call(t[0]);
                }
                list.Add((chain[k] == "relu" ? $"relu ({chain[k - 1]})" : chain[k], f, [y], true));
                y = f([y]);
            }
            var identity = x0;
            if (stem) { }
            else if (parts.TryGetValue("downsample", out var downsample))
            {
                var ds = downsample.named_children().ToDictionary(c => c.name, c => (Layer)c.module, StringComparer.Ordinal);
                var sliced = ds["0"].call(x0);
                long stride = x0.shape[2] / sliced.shape[2];
                if (stride > 1)
                {
                    var weight = ds["0"].named_parameters().Single().parameter;
                    list.Add(("downsample.0 slice+1x1", t => ds["0"].call(t[0]), [x0], true));
                    // Forward only: this strided backward is the oneDNN primitive that kills the process on some machines (docs/PLATFORM-NOTES.md).
                    list.Add(("downsample.0 strided 1x1", t => nn.functional.conv2d(t[0], weight, strides: [stride, stride]), [x0], false));
                }
                else list.Add(("downsample.0", t => ds["0"].call(t[0]), [x0], true));
                list.Add(("downsample.1", t => ds["1"].call(t[0]), [sliced], true));
                identity = ds["1"].call(sliced);
            }
            if (!stem)
            {
                list.Add(("add", t => t[0].Plus(t[1]), [y, identity], true));
                list.Add(("relu (out)", t => t[0].relu(), [y.Plus(identity)], true));
            }
        }
        var prepared = new List<Op>();
        foreach (var (opName, forward, inputs, backward) in list)
        {
            // The images never require grad: the stem's conv1 computes no input gradient in training, nor here.
            bool needsGrad = !(stem && prepared.Count == 0);
            var leaves = inputs.Select(t => t.detach().clone().requires_grad_(needsGrad).DetachFromDisposeScope()).ToArray();
            Tensor grad;
            using (no_grad()) grad = randn_like(forward(leaves)).DetachFromDisposeScope();
            prepared.Add(new Op(opName, forward, leaves, grad, backward));
        }
        ops[name] = prepared;
        return prepared;
    }

    private void ClearGrads(Tensor input)
    {
        foreach (var p in model.parameters()) p.grad = null;
        input.grad = null;
    }

    private static double Ms(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;

    public void Dispose()
    {
        foreach (var b in blocks)
        {
            b.Input.Dispose();
            foreach (var g in b.Grads) g.Dispose();
        }
        foreach (var op in ops.Values.SelectMany(o => o))
        {
            foreach (var t in op.Inputs) t.Dispose();
            op.Grad.Dispose();
        }
        model.Dispose();
    }
}

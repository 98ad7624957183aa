using Smile.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Models;

/// <summary>
/// The eval-mode arithmetic of a <see cref="ResNet"/> with every BatchNorm folded into the convolution before it:
/// <c>W' = W * g / sqrt(v + eps)</c> per output channel and <c>b' = beta - m * g / sqrt(v + eps)</c>. An eval-mode
/// BatchNorm is a per-channel affine map, so the outputs are the network's eval-mode outputs up to float rounding
/// (FoldedResNetTests), while the BatchNorm's own pass over each activation disappears; the bias rides in the
/// convolution for free. For inference only (no autograd). It keeps its own folded copies of the convolution
/// weights: <see cref="Refold"/> recomputes them from the network's current parameters and running statistics, and
/// must be called after those change (SMILE's mean teacher after each EMA update). The classifier heads are the
/// network's own modules.
/// <para>Its folded weights are NCHW unless it is made with <c>channelsLast</c>: then they have NHWC strides, made once,
/// so that a channels-last input on CUDA (Training/CudaSpeed.cs: on by default there) does not convert every weight on
/// every call. On the CPU it stays NCHW unless asked: on the CPUs whose VM hides its cache sizes, LibTorch 2.10's
/// oneDNN killed the process (SIGFPE) in a ResNet-50 channels-last forward too, not only in backward
/// (docs/PLATFORM-NOTES.md).</para>
/// </summary>
public sealed class FoldedResNet : IDisposable
{
    /// <summary>One convolution + BatchNorm pair, by module name, and its folded weight and bias.</summary>
    private sealed class Pair(nn.Module conv, BatchNorm norm, long stride, long padding)
    {
        public nn.Module Conv { get; } = conv;
        public BatchNorm Norm { get; } = norm;
        public long Stride { get; } = stride;
        public long Padding { get; } = padding;
        public Tensor? Weight { get; set; }
        public Tensor? Bias { get; set; }

        /// <summary>The folded weight and bias rounded to <see cref="roundedType"/> (null until a forward runs under autocast).</summary>
        public Tensor? RoundedWeight { get; set; }
        public Tensor? RoundedBias { get; set; }
    }

    /// <summary>A residual block: its convolutions in order and the optional downsample.</summary>
    private sealed record Block(Pair[] Convs, Pair? Downsample);

    private readonly Pair stem;
    private readonly List<Block> blocks = new();
    private readonly MaxPool2d maxpool;
    private readonly Linear fc;
    private readonly Linear? auxFc;
    private readonly bool channelsLast;
    private ScalarType? roundedType;
    private bool disposed;

    /// <summary>Whether a forward under autocast reads folded weights rounded to autocast's type once per fold (true)
    /// or lets autocast round the fp32 ones at every convolution (false: a test compares the two).</summary>
    internal bool KeepsRoundedCopies { get; init; } = true;

    /// <summary>Whether a channels-last CPU forward may hand each ReLU and residual sum to oneDNN's convolution before it
    /// (<see cref="FusesOnOneDnn"/>; false: the separate ops, for tests that compare the two).</summary>
    internal bool MayFuse { get; init; } = true;

    [ThreadStatic] private static long fusedCalls;

    /// <summary>How many convolutions this thread has computed with their ReLU (and residual sum) fused (a test checks
    /// that a fused forward fuses every one it should, so that a change cannot drop the route unnoticed).</summary>
    internal static long FusedCalls => fusedCalls;

    /// <param name="network">The network whose eval-mode arithmetic this computes.</param>
    /// <param name="channelsLast">Keep the folded weights in channels-last strides (for channels-last inputs).</param>
    public FoldedResNet(ResNet network, bool channelsLast = false)
    {
        this.channelsLast = channelsLast;
        ArgumentNullException.ThrowIfNull(network);
        var modules = network.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
        Pair PairOf(string conv, string norm, long stride, long padding) =>
            new(modules[conv], (BatchNorm)modules[norm], stride, padding);

        stem = PairOf("conv1", "bn1", 2, 3);
        maxpool = (MaxPool2d)modules["maxpool"];
        fc = (Linear)modules["fc"];
        auxFc = modules.TryGetValue("aux_fc", out var aux) ? (Linear)aux : null;
        for (int layer = 1; layer <= 4; layer++)
        {
            for (int i = 0; i < network.Spec.Blocks[layer - 1]; i++)
            {
                string p = $"layer{layer}.{i}";
                long stride = layer > 1 && i == 0 ? 2 : 1;
                // torchvision v1.5: the Bottleneck's stride is on its 3x3 convolution, the BasicBlock's on its first.
                var convs = network.Spec.Bottleneck
                    ? new[] { PairOf($"{p}.conv1", $"{p}.bn1", 1, 0), PairOf($"{p}.conv2", $"{p}.bn2", stride, 1), PairOf($"{p}.conv3", $"{p}.bn3", 1, 0) }
                    : new[] { PairOf($"{p}.conv1", $"{p}.bn1", stride, 1), PairOf($"{p}.conv2", $"{p}.bn2", 1, 1) };
                var downsample = modules.ContainsKey($"{p}.downsample.0") ? PairOf($"{p}.downsample.0", $"{p}.downsample.1", stride, 0) : null;
                blocks.Add(new Block(convs, downsample));
            }
        }
        Refold();
    }

    /// <summary>The folded convolution weights (tests check their strides).</summary>
    internal IEnumerable<Tensor> FoldedWeights => Pairs.Select(p => p.Weight!);

    /// <summary>Every folded weight and bias, rounded copies included (a captured step reads them at fixed addresses).</summary>
    internal IEnumerable<Tensor> FoldedTensors =>
        Pairs.SelectMany(p => new[] { p.Weight!, p.Bias!, p.RoundedWeight, p.RoundedBias }.OfType<Tensor>());

    private IEnumerable<Pair> Pairs => blocks.SelectMany(b => b.Downsample is null ? b.Convs : b.Convs.Append(b.Downsample)).Prepend(stem);

    /// <summary>Recomputes every folded weight and bias from the network's current values (in place after the first time).</summary>
    public void Refold()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var noGrad = no_grad();
        foreach (var pair in Pairs)
        {
            using var scope = NewDisposeScope();
            var norm = pair.Norm;
            var weight = pair.Conv switch
            {
                Conv2d c => c.weight,
                PointwiseConv2d c => c.Weight,
                _ => throw new InvalidOperationException($"unexpected convolution module {pair.Conv.GetType().Name}"),
            };
            var scale = norm.weight! / norm.running_var!.Plus(norm.eps).sqrt();
            var w = weight * scale.reshape(-1, 1, 1, 1);
            var b = norm.bias! - norm.running_mean! * scale;
            if (pair.Weight is null)
            {
                pair.Weight = (channelsLast ? Training.CudaSpeed.ToChannelsLast(w) : w).DetachFromDisposeScope(); // copy_ keeps its strides
                pair.Bias = b.DetachFromDisposeScope();
            }
            else
            {
                pair.Weight.copy_(w);
                pair.Bias!.copy_(b);
            }
            pair.RoundedWeight?.copy_(w); // copy_ rounds to nearest even, as autocast's cast does
            pair.RoundedBias?.copy_(b);
        }
    }

    // Under autocast each convolution would cast its fp32 weight and bias to autocast's type on every call: for
    // ResNet-50 23.5 million weights read and written again each forward, though they change only when refolded
    // (SMILE's mean teacher: every 10th iteration; evaluation: never). The copies are rounded as that cast rounds,
    // so the convolutions see the same operands. Made on the first forward under a type, remade if it changes.
    private bool UsesRoundedCopies(Tensor x)
    {
        if (!KeepsRoundedCopies || Autocast.TypeIfOn(x.device.type) is not { } type || type == ScalarType.Float32) return false;
        if (roundedType == type) return true;
        using var noGrad = no_grad();
        foreach (var pair in Pairs)
        {
            pair.RoundedWeight?.Dispose();
            pair.RoundedBias?.Dispose();
            pair.RoundedWeight = pair.Weight!.to(type).DetachFromDisposeScope(); // keeps the weight's strides
            pair.RoundedBias = pair.Bias!.to(type).DetachFromDisposeScope();
        }
        roundedType = type;
        return true;
    }

    /// <summary>The network's eval-mode forward (logits, last feature map, aux logits), without autograd.</summary>
    public ClassifierOutput Forward(Tensor x)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentNullException.ThrowIfNull(x);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        bool rounded = UsesRoundedCopies(x);
        bool fused = FusesOnOneDnn(x, rounded);
        Tensor Conv(Pair pair, Tensor input) => Convolve(pair, input, rounded);
        // Where the separate route multiplies matrices (bf16 1x1 convolutions of maps under 14x14) it stays.
        bool Fuses(Pair pair, Tensor input) => fused && !(pair.Conv is PointwiseConv2d && PointwiseConv2d.MultipliesMatricesFor(input));
        Tensor ConvRelu(Pair pair, Tensor input) => Fuses(pair, input) ? FusedConvolveRelu(pair, input, rounded) : Conv(pair, input).relu_();
        // Autocast would cast the image to the weights' type at the first convolution; the fused one is outside autocast.
        Tensor StemInput() => fused && rounded && x.dtype != roundedType ? x.to(roundedType!.Value) : x;
        // Each block's activations are freed once the next block has its input: the forward's dispose scope alone
        // would hold every activation of the network until it ends (at ResNet-50 224x224 about 45 MB an image in
        // fp32), which PyTorch's eval forward never holds (docs/GPU.md, "Peak GPU memory").
        var y = Stage(() => maxpool.call(ConvRelu(stem, StemInput())));
        foreach (var block in blocks)
        {
            var input = y;
            y = Stage(() =>
            {
                var h = input;
                for (int k = 0; k < block.Convs.Length - 1; k++) h = ConvRelu(block.Convs[k], h);
                var last = block.Convs[^1];
                var identity = block.Downsample is null ? input : Conv(block.Downsample, input);
                // Fused, the sum is written into the identity: the block's input (this forward's own tensor, freed
                // after this block) or the downsample's fresh output.
                return Fuses(last, h) ? FusedConvolveAddReluInto(identity, last, h, rounded) : Conv(last, h).AddInPlace(identity).relu_();
            });
            input.Dispose();
        }
        var pooled = y.mean([2, 3]);
        var logits = fc.call(pooled);
        var aux = auxFc?.call(pooled);
        return ClassifierOutput.LeavingScope(logits, y, aux);
    }

    /// <summary>The tensor <paramref name="compute"/> returns, in the caller's dispose scope; every other tensor it
    /// made is freed now.</summary>
    private static Tensor Stage(Func<Tensor> compute)
    {
        using var inner = NewDisposeScope();
        return compute().MoveToOuterDisposeScope();
    }

    // oneDNN's convolution with the bias, ReLU and residual sum in one pass over each output
    // (Native/OneDnnFusedConvolution.cs) saves a pass over every activation per ReLU and per residual sum
    // (docs/PERFORMANCE.md, "The folded forward's ReLUs and residual sums inside oneDNN's convolution", has the times).
    // Only where the separate convolutions are oneDNN's own in the same type: a channels-last CPU forward in fp32, or
    // under bf16 autocast with the rounded copies, where oneDNN sees cache sizes it can work with (its 1x1
    // convolutions are unsafe otherwise: Models/PointwiseConv2d.cs) and no convolution is rounded by hand
    // (LowPrecisionConvolution). In NCHW the fused ops were slower than the separate ones and are not used.
    private bool FusesOnOneDnn(Tensor x, bool rounded)
    {
        if (!MayFuse || !channelsLast || x.device.type != DeviceType.CPU || LowPrecisionConvolution.Rounding is not null) return false;
        var type = rounded ? roundedType : Autocast.TypeIfOn(x.device.type) is null ? x.dtype : null;
        return type is ScalarType.Float32 or ScalarType.BFloat16 && FusesOnThisMachine;
    }

    /// <summary>Whether this process's oneDNN takes the fused ops at all: the functions are there (and not turned off)
    /// and oneDNN sees cache sizes it can work with (`smile info` reports it).</summary>
    internal static bool FusesOnThisMachine => OneDnnFusedConvolution.Available && PointwiseConv2d.OneDnnSeesCaches;

    private static (Tensor Weight, Tensor Bias) Operands(Pair pair, bool rounded) =>
        rounded ? (pair.RoundedWeight!, pair.RoundedBias!) : (pair.Weight!, pair.Bias!);

    private static Tensor FusedConvolveRelu(Pair pair, Tensor x, bool rounded)
    {
        fusedCalls++;
        var (weight, bias) = Operands(pair, rounded);
        return OneDnnFusedConvolution.ConvolveRelu(x, weight, bias, pair.Stride, pair.Padding);
    }

    private static Tensor FusedConvolveAddReluInto(Tensor sum, Pair pair, Tensor x, bool rounded)
    {
        fusedCalls++;
        var (weight, bias) = Operands(pair, rounded);
        return OneDnnFusedConvolution.ConvolveAddReluInto(sum, x, weight, bias, pair.Stride, pair.Padding);
    }

    private static Tensor Convolve(Pair pair, Tensor x, bool rounded)
    {
        var (weight, bias) = Operands(pair, rounded);
        return pair.Conv is PointwiseConv2d
            ? PointwiseConv2d.Apply(x, weight, bias, pair.Stride)
            : LowPrecisionConvolution.Conv2d(x, weight, bias, strides: [pair.Stride, pair.Stride], padding: [pair.Padding, pair.Padding]);
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var pair in Pairs)
        {
            pair.Weight?.Dispose();
            pair.Bias?.Dispose();
            pair.RoundedWeight?.Dispose();
            pair.RoundedBias?.Dispose();
        }
    }
}

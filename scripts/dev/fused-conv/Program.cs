// LibTorch's fused oneDNN convolutions (Native/OneDnnFusedConvolution.cs) against the separate ops, 2 threads:
//   shapes fp32|bf16 [nchw]  ResNet-50's shapes, batch 16: max |difference| and ms per call (median of 3 x 10) of
//                            conv + ReLU and of conv + residual add + ReLU, separate and fused (the sum in place)
//   pieces fp32|bf16         the forward's other ops at ResNet-50's shapes: max pooling (and its backward), the mean pool,
//                            the image's cast
//   forward fp32|bf16        the folded ResNet-50 forward (FoldedResNet, channels-last, batch 16, 224x224), median of
//                            10 after 3, and its refold; run it with and without SMILE_ONEDNN_FUSION=off to compare
using System.Diagnostics;
using Smile;
using Smile.Models;
using Smile.Native;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

torch.set_num_threads(2);
AllocatorPolicy.Apply();
Console.WriteLine($"oneDNN caches: {OneDnnCacheSizes.Apply()}; fused ops: {OneDnnFusedConvolution.Unavailable ?? "available"}");
string mode = args.ElementAtOrDefault(0) ?? "shapes", precisionName = args.ElementAtOrDefault(1) ?? "bf16";
if (mode == "forward")
{
    var precision = MixedPrecision.Create(precisionName, out _);
    torch.random.manual_seed(0);
    using var net = (ResNet)ModelFactory.Create("resnet50", 1000);
    net.eval();
    using var folded = new FoldedResNet(net, channelsLast: true);
    using var input = CudaSpeed.ToChannelsLast(randn(16, 3, 224, 224));
    var times = new List<double>();
    for (int i = 0; i < 13; i++)
    {
        var clock = Stopwatch.StartNew();
        using (NewDisposeScope())
        using (precision.Enter(CPU))
            folded.Forward(input);
        if (i >= 3) times.Add(clock.Elapsed.TotalMilliseconds);
    }
    var refolds = new List<double>();
    for (int i = 0; i < 5; i++)
    {
        var clock = Stopwatch.StartNew();
        folded.Refold(); // the SMILE teacher's after each mean-teacher update
        refolds.Add(clock.Elapsed.TotalMilliseconds);
    }
    refolds.Sort();
    Console.WriteLine($"refold (fp32 weights and the rounded copies): median {refolds[2]:F1} ms, min {refolds[0]:F1}, max {refolds[^1]:F1}");
    times.Sort();
    Console.WriteLine($"{precisionName} folded forward: median {times[times.Count / 2]:F1} ms, min {times[0]:F1}, max {times[^1]:F1}");
    return;
}
if (mode == "pieces")
{
    // The folded forward's other ops on bf16 channels-last maps of ResNet-50's shapes, batch 16, ms per call.
    using var scope = NewDisposeScope();
    using var noGrad = no_grad();
    var t = precisionName == "fp32" ? ScalarType.Float32 : ScalarType.BFloat16;
    var stemOut = CudaSpeed.ToChannelsLast(randn(16, 64, 112, 112)).to(t);
    var last = CudaSpeed.ToChannelsLast(randn(16, 2048, 7, 7)).to(t);
    var image = CudaSpeed.ToChannelsLast(randn(16, 3, 224, 224));
    using var pool = nn.MaxPool2d(3, 2, 1);
    double Ms(Func<Tensor> call)
    {
        for (int i = 0; i < 3; i++) call().Dispose();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 20; i++) call().Dispose();
        return clock.Elapsed.TotalMilliseconds / 20;
    }
    var leaf = stemOut.detach().requires_grad_(true);
    double backward;
    using (enable_grad())
    {
        var y = pool.call(leaf);
        var g = ones_like(y);
        backward = Ms(() => { using var s = NewDisposeScope(); return autograd.grad([pool.call(leaf)], [leaf], [g])[0].MoveToOuterDisposeScope(); });
    }
    Console.WriteLine($"maxpool forward and backward: {backward:F2} ms");
    Console.WriteLine($"maxpool 3x3/2 of 64 @ 112: {Ms(() => pool.call(stemOut)):F2} ms; mean over 7x7 of 2048: {Ms(() => last.mean([2, 3])):F3} ms; " +
        $"adaptive_avg_pool2d: {Ms(() => nn.functional.adaptive_avg_pool2d(last, [1, 1])):F3} ms; image to {t}: {Ms(() => image.to(t)):F3} ms");
    return;
}
var type = precisionName == "fp32" ? ScalarType.Float32 : ScalarType.BFloat16;
bool nchw = args.ElementAtOrDefault(2) == "nchw";
Tensor Lay(Tensor t) => nchw ? t : CudaSpeed.ToChannelsLast(t);
double Time(Func<Tensor> call)
{
    var medians = new List<double>();
    for (int r = 0; r < 3; r++)
    {
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 10; i++) call().Dispose();
        medians.Add(clock.Elapsed.TotalMilliseconds / 10);
    }
    medians.Sort();
    return medians[1];
}
float Gap(Tensor a, Tensor b) => (a.to(ScalarType.Float32) - b.to(ScalarType.Float32)).abs().max().item<float>();
foreach (var (c, o, h, k, s) in new[] { (64L, 64L, 56L, 3L, 1L), (64L, 256L, 56L, 1L, 1L), (256L, 64L, 56L, 1L, 1L), (128L, 128L, 56L, 3L, 2L),
             (128L, 128L, 28L, 3L, 1L), (256L, 1024L, 14L, 1L, 1L), (512L, 512L, 7L, 3L, 1L), (512L, 2048L, 7L, 1L, 1L) })
{
    using var scope = NewDisposeScope();
    using var noGrad = no_grad();
    long pad = k / 2, ho = (h + 2 * pad - k) / s + 1;
    var x = Lay(randn(16, c, h, h)).to(type);
    var w = Lay(randn(o, c, k, k).Times(1 / Math.Sqrt(c * k * k))).to(type);
    var b = randn(o).to(type);
    var other = Lay(randn(16, o, ho, ho)).to(type);
    var sum = other.clone();
    Tensor Separate() => nn.functional.conv2d(x, w, b, strides: [s, s], padding: [pad, pad]).relu_();
    Tensor Fused() => OneDnnFusedConvolution.ConvolveRelu(x, w, b, s, pad);
    Tensor SeparateAdd() => nn.functional.conv2d(x, w, b, strides: [s, s], padding: [pad, pad]).AddInPlace(other).relu_();
    Tensor FusedAdd() => OneDnnFusedConvolution.ConvolveAddReluInto(sum, x, w, b, s, pad); // accumulates: timing only
    float reluGap = Gap(Separate(), Fused()), addGap = Gap(SeparateAdd(), OneDnnFusedConvolution.ConvolveAddReluInto(other.clone(), x, w, b, s, pad));
    Console.WriteLine($"{c}->{o} {k}x{k} stride {s} at {h}x{h}: |diff| ReLU {reluGap:G3}, add {addGap:G3} | ms: conv+ReLU {Time(Separate):F2} / fused {Time(Fused):F2}; " +
        $"conv+add+ReLU {Time(SeparateAdd):F2} / fused {Time(FusedAdd):F2}");
}

// LibTorch's 1x1 convolutions on this CPU, single calls (batch 16 unless said, 2 threads), after OneDnnCacheSizes:
//   correct         every 1x1 shape of in/out 64-2048, batch 1/2/16, sizes 1-28 in fp32 against an fp64 convolution,
//                   NCHW and channels-last (the crashing pairs only NCHW unless OneDnnCacheSizes changed oneDNN's
//                   cache sizes), and 3x3 convolutions channels-last against
//                   NCHW in fp32 and bf16; prints each wrong one and a count
//   gradients       output and both gradients of ResNet-50's stride-1 channels-last 1x1 shapes (batch 8 and 16,
//                   fp32) against the NCHW convolution
//   crash C O H     one channels-last bf16 1x1 convolution C -> O at HxH, forward and backward (may die by SIGFPE)
//   speed fp32|bf16 forward + backward of channels-last 1x1 convolutions at ResNet-50's 56x56 and 28x28 shapes (and,
//                   where oneDNN sees cache sizes, at 14x14 and 7x7): the matrix product over the pixels (as
//                   PointwiseConv2d computes it) against oneDNN's convolution, ms (median of 3 x 10)
using System.Diagnostics;
using Smile.Native;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

torch.set_num_threads(2);
// As every model build does (SMILE_ONEDNN_CACHES=keep leaves oneDNN's own reading of a hidden-cache CPU in place).
string caches = OneDnnCacheSizes.Apply();
bool fixedCaches = caches.StartsWith("hidden", StringComparison.Ordinal);
Console.WriteLine($"oneDNN caches: {caches}");
var crashing = new[] { (1024L, 2048L), (1024L, 512L), (256L, 1024L), (512L, 1024L), (512L, 2048L) };
bool Crashes(long c, long o) => crashing.Any(p => p == (c, o) || p == (o, c));
Tensor Weight(long o, long c, long k)
{
    using Scalar scale = 1 / Math.Sqrt(c * k * k);
    return randn(o, c, k, k).mul_(scale);
}

switch (args.FirstOrDefault())
{
    case "correct":
    {
        int wrong = 0, total = 0;
        foreach (long c in new long[] { 64, 128, 256, 512, 1024, 2048 })
        foreach (long o in new long[] { 64, 128, 256, 512, 1024, 2048 })
        foreach (long n in new long[] { 1, 2, 16 })
        foreach (long h in new long[] { 1, 3, 5, 7, 14, 28 })
        {
            if (n * Math.Max(c, o) * h * h > 16L * 256 * 28 * 28) continue;
            using var scope = NewDisposeScope();
            var w = Weight(o, c, 1);
            var x = randn(n, c, h, h);
            var exact = nn.functional.conv2d(x.to(ScalarType.Float64), w.to(ScalarType.Float64)).to(ScalarType.Float32);
            foreach (bool cl in Crashes(c, o) && !fixedCaches ? new[] { false } : new[] { false, true })
            {
                var y = nn.functional.conv2d(cl ? CudaSpeed.ToChannelsLast(x) : x, w);
                float gap = (y - exact).abs().max().item<float>(), scale = exact.abs().max().item<float>();
                total++;
                if (gap <= 1e-3f) continue;
                wrong++;
                Console.WriteLine($"wrong: 1x1 {c} -> {o}, batch {n}, {h}x{h}, {(cl ? "channels-last" : "NCHW")}: off by {gap:G3} (outputs up to {scale:G3})");
            }
        }
        foreach (var type in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        foreach (long c in new long[] { 64, 128, 256, 512 })
        foreach (long n in new long[] { 1, 2, 16 })
        foreach (long h in new long[] { 1, 2, 3, 5, 7, 14, 28, 56 })
        foreach (long s in new long[] { 1, 2 })
        {
            if (n * c * h * h > 16L * 64 * 56 * 56) continue;
            using var scope = NewDisposeScope();
            var w = Weight(c, c, 3).to(type);
            var x = randn(n, c, h, h).to(type);
            var nchw = nn.functional.conv2d(x, w, null, [s, s], [1, 1]).to(ScalarType.Float32);
            var nhwc = nn.functional.conv2d(CudaSpeed.ToChannelsLast(x), w, null, [s, s], [1, 1]).to(ScalarType.Float32);
            float gap = (nchw - nhwc).abs().max().item<float>();
            total++;
            if (gap <= (type == ScalarType.BFloat16 ? 0.1f : 1e-3f)) continue;
            wrong++;
            Console.WriteLine($"wrong: 3x3 {c} -> {c} {type}, batch {n}, {h}x{h}, stride {s}: channels-last off NCHW by {gap:G3}");
        }
        Console.WriteLine($"{wrong} of {total} convolutions wrong");
        break;
    }
    case "gradients":
    {
        // output, input gradient and weight gradient of channels-last fp32 1x1 convolutions against NCHW ones
        int wrong = 0, total = 0;
        foreach (long n in new long[] { 8, 16 })
        foreach (var (c, o, h) in new (long, long, long)[] { (64, 64, 56), (64, 256, 56), (256, 64, 56), (256, 128, 56), (128, 512, 28), (512, 128, 28), (256, 512, 28), (512, 256, 28), (256, 1024, 14), (1024, 256, 14), (512, 1024, 14), (1024, 512, 14), (512, 2048, 7), (2048, 512, 7), (1024, 2048, 7) })
        {
            if (Crashes(c, o) && !fixedCaches) continue;
            using var scope = NewDisposeScope();
            var w = Weight(o, c, 1);
            var x = randn(n, c, h, h);
            var g = randn(n, o, h, h);
            (Tensor, Tensor, Tensor) Run(bool cl)
            {
                var leaf = (cl ? CudaSpeed.ToChannelsLast(x) : x.clone()).requires_grad_();
                var wl = w.clone().requires_grad_();
                var y = nn.functional.conv2d(leaf, wl);
                var grads = torch.autograd.grad([(y * g).sum()], [leaf, wl]);
                return (y.detach(), grads[0], grads[1]);
            }
            var (y0, gx0, gw0) = Run(false);
            var (y1, gx1, gw1) = Run(true);
            foreach (var (a, b, what) in new[] { (y0, y1, "output"), (gx0, gx1, "input gradient"), (gw0, gw1, "weight gradient") })
            {
                float gap = (a - b).abs().max().item<float>(), scale = a.abs().max().item<float>();
                total++;
                if (gap <= 1e-4f * Math.Max(1, scale)) continue;
                wrong++;
                Console.WriteLine($"wrong: 1x1 {c} -> {o}, batch {n}, {h}x{h}, channels-last {what}: off by {gap:G3} (up to {scale:G3})");
            }
        }
        Console.WriteLine($"{wrong} of {total} outputs and gradients wrong");
        break;
    }
    case "crash":
    {
        long c = long.Parse(args[1]), o = long.Parse(args[2]), h = long.Parse(args[3]);
        var w = Weight(o, c, 1).requires_grad_();
        var x = CudaSpeed.ToChannelsLast(randn(16, c, h, h)).to(ScalarType.BFloat16).requires_grad_();
        var g = CudaSpeed.ToChannelsLast(randn(16, o, h, h)).to(ScalarType.BFloat16);
        Tensor y;
        using (Autocast.Enter(DeviceType.CPU, ScalarType.BFloat16)) y = nn.functional.conv2d(x, w);
        torch.autograd.backward([y], [g]);
        Console.WriteLine($"survived: 1x1 {c} -> {o} at {h}x{h}, bf16 channels-last, forward and backward");
        break;
    }
    case "speed":
    {
        bool bf16 = args.ElementAtOrDefault(1) == "bf16";
        var type = bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        Console.WriteLine($"{(bf16 ? "bf16 autocast" : "fp32")}, channels-last, batch 16, forward + backward, ms: matrix product / oneDNN convolution");
        var shapes = new List<(long, long, long)> { (64, 64, 56), (64, 256, 56), (256, 64, 56), (256, 128, 56), (128, 512, 28), (512, 128, 28), (256, 512, 28), (512, 256, 28) };
        if (fixedCaches || !Smile.Diagnostics.CpuInfo.Machine.CachesHidden) // these die with oneDNN's one-byte caches
            shapes.AddRange([(256, 1024, 14), (1024, 256, 14), (512, 2048, 7), (2048, 512, 7)]);
        foreach (var (c, o, h) in shapes)
        {
            var w = Weight(o, c, 1).requires_grad_();
            var x = CudaSpeed.ToChannelsLast(randn(16, c, h, h)).to(type).requires_grad_();
            var g = CudaSpeed.ToChannelsLast(randn(16, o, h, h)).to(type);
            double Median(Func<Tensor, Tensor> forward)
            {
                var times = new List<double>();
                for (int round = 0; round < 4; round++)
                {
                    var clock = Stopwatch.StartNew();
                    for (int i = 0; i < 10; i++)
                    {
                        using var scope = NewDisposeScope();
                        Tensor y;
                        using (bf16 ? Autocast.Enter(DeviceType.CPU, ScalarType.BFloat16) : null) y = forward(x);
                        torch.autograd.backward([y], [g]);
                    }
                    if (round > 0) times.Add(clock.Elapsed.TotalMilliseconds / 10); // round 0 warms up
                }
                return times.Order().ElementAt(1);
            }
            // PointwiseConv2d's matrix product, written out as torch_conv1x1.py writes it for PyTorch
            double product = Median(t => nn.functional.linear(t.permute(0, 2, 3, 1).reshape(-1, c), w.view(o, c)).view(16, h, h, o).permute(0, 3, 1, 2));
            double convolution = Median(t => nn.functional.conv2d(t, w));
            Console.WriteLine($"{c} -> {o} at {h}x{h}: {product:F1} / {convolution:F1}");
        }
        break;
    }
    default:
        Console.Error.WriteLine("usage: Conv1x1Probe correct | crash C O H | speed fp32|bf16");
        Environment.Exit(2);
        break;
}

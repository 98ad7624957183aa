// usage: FlatChunks
// The flat Nesterov SGD update (src/Smile.Core/Training/MomentumSgd.cs: gather, decay, momentum, step) over 25.6
// million float32 elements in about 160 gradients of ResNet-50-like sizes, the whole buffer at once against chunks of
// 4M, 1M, 256K and 64K elements (FlatOptimizer.CpuChunkElements); prints the median milliseconds of 7 of each.
using System.Diagnostics;
using Smile.Native;
using Smile;
using TorchSharp;
using static TorchSharp.torch;
AllocatorPolicy.Apply();
torch.set_num_threads(2);
long n = 25_600_000;
var p = randn(n); var buf = randn(n);
// grads as 160 separate tensors like ResNet-50's
var sizes = new List<long>(); long left = n; var r = new Random(0);
while (left > 0) { long s = Math.Min(left, (long)Math.Pow(10, 3 + r.NextDouble() * 3.4)); sizes.Add(s); left -= s; }
var grads = sizes.Select(s => randn(s)).ToList();
using Scalar wd = 1e-4.ToScalar(), mu = 0.9.ToScalar(), lr = (-0.01).ToScalar();
double Run(long chunk)
{
    var clock = Stopwatch.StartNew();
    using var noGrad = no_grad();
    int i = 0; long off = 0;
    while (i < grads.Count)
    {
        using var scope = NewDisposeScope();
        int j = i; long len = 0;
        while (j < grads.Count && (j == i || len + grads[j].numel() <= chunk)) { len += grads[j].numel(); j++; }
        var g = cat(grads.GetRange(i, j - i).ToArray(), 0);
        var pv = p.narrow(0, off, len); var bv = buf.narrow(0, off, len);
        g.add_(pv, wd); bv.mul_(mu).AddInPlace(g); pv.add_(g.add_(bv, mu), lr);
        i = j; off += len;
    }
    return clock.Elapsed.TotalMilliseconds;
}
long[] chunks = [long.MaxValue, 4 << 20, 1 << 20, 256 << 10, 64 << 10];
foreach (var c in chunks) Run(c);
var t = chunks.ToDictionary(c => c, c => new List<double>());
for (int k = 0; k < 7; k++) foreach (var c in chunks) t[c].Add(Run(c));
foreach (var c in chunks) { var l = t[c]; l.Sort(); Console.WriteLine($"chunk {c,20}: {l[3]:F1} ms (min {l[0]:F1})"); }

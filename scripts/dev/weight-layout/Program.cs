// usage: WeightLayout [pairs]
// ResNet-50 student (200 classes + 1000 aux), train mode, bf16 autocast, channels-last batch of 16 at 224x224:
// forward + backward with the conv weights NCHW (as Smile's flat optimizer leaves them) against channels-last (as
// PyTorch's model.to(memory_format=torch.channels_last) makes them), alternated; gradients set to null each time.
using System.Diagnostics;
using Smile.Models;
using Smile.Native;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

AllocatorPolicy.Apply();
torch.set_num_threads(2);
int pairs = int.Parse(args.ElementAtOrDefault(0) ?? "6");
var precision = MixedPrecision.Create("bf16", out _);
torch.random.manual_seed(0);
var nchw = ModelFactory.Create("resnet50", 200, 1000); nchw.train();
torch.random.manual_seed(0);
var cl = ModelFactory.Create("resnet50", 200, 1000); cl.train();
using (no_grad())
    foreach (var p in cl.parameters())
        if (p.dim() == 4) { using var t = CudaSpeed.ToChannelsLast(p); p.set_(t); };
var x = CudaSpeed.ToChannelsLast(randn(16, 3, 224, 224));
var y = randint(0, 200, 16);
double Step(ImageClassifier m)
{
    var clock = Stopwatch.StartNew();
    using (NewDisposeScope())
    {
        Tensor loss;
        using (precision.Enter(CPU)) loss = nn.functional.cross_entropy(m.call(x).Logits.to(ScalarType.Float32), y);
        loss.backward();
        foreach (var p in m.parameters()) { using var g = p.grad; p.grad = null; }
    }
    NativeGarbage.Release();
    return clock.Elapsed.TotalMilliseconds;
}
for (int w = 0; w < 3; w++) { Step(nchw); Step(cl); }
var a = new List<double>(); var b = new List<double>();
for (int i = 0; i < pairs; i++) { a.Add(Step(nchw)); b.Add(Step(cl)); b.Add(Step(cl)); a.Add(Step(nchw)); }
a.Sort(); b.Sort();
Console.WriteLine($"forward+backward ms, median of {a.Count}: weights NCHW {a[a.Count / 2]:F1}, channels-last {b[b.Count / 2]:F1}");

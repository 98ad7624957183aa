// Smile's ResNet-50 (200 classes) in train mode, channels-last input 16x3x224x224, 2 threads, bf16 autocast or fp32:
// six iterations of forward and backward, each timed with the minor page faults it took; then eight forwards with a
// stopwatch around every module (hooks), the mean of the last five per module. torch_layer_times.py does the same
// for torchvision's ResNet-50, so the two print comparable lines.
// usage: LayerTimes bf16|fp32
using System.Diagnostics;
using Smile.Models;
using Smile.Native;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

torch.set_num_threads(2);
bool bf16 = args.FirstOrDefault() != "fp32";
IDisposable? Amp() => bf16 ? Autocast.Enter(DeviceType.CPU, ScalarType.BFloat16) : null;
static long MinorFaults() => long.Parse(File.ReadAllText("/proc/self/stat").Split(") ")[1].Split(' ')[7]);

var model = ModelFactory.Create("resnet50", 200);
model.train();
var x = CudaSpeed.ToChannelsLast(randn(16, 3, 224, 224));
for (int i = 0; i < 6; i++)
{
    using var scope = NewDisposeScope();
    long f0 = MinorFaults();
    var clock = Stopwatch.StartNew();
    Tensor y;
    using (Amp()) y = model.call(x).Logits;
    long f1 = MinorFaults();
    double forward = clock.Elapsed.TotalMilliseconds;
    y.to(ScalarType.Float32).sum().backward();
    Console.WriteLine($"iteration {i}: forward {forward:F0} ms, {f1 - f0} faults; backward {clock.Elapsed.TotalMilliseconds - forward:F0} ms, {MinorFaults() - f1} faults");
}

var total = new Dictionary<string, double>();
var started = new Dictionary<string, long>();
foreach (var (name, module) in model.named_modules())
{
    if (name.Length == 0 || module is not nn.Module<Tensor, Tensor> timed) continue;
    Action<nn.Module> before = _ => started[name] = Stopwatch.GetTimestamp();
    Action<nn.Module> after = _ => total[name] = total.GetValueOrDefault(name) + Stopwatch.GetElapsedTime(started[name]).TotalMilliseconds;
    timed.register_forward_pre_hook(before);
    timed.register_forward_hook(after);
}
for (int i = 0; i < 8; i++)
{
    if (i == 3) total.Clear();
    using var scope = NewDisposeScope();
    using (Amp()) model.call(x);
}
foreach (var (name, ms) in total) Console.WriteLine($"module {name} {ms / 5:F2}");

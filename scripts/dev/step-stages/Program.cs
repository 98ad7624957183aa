// usage: StepStages l2|smile bf16|fp32 [iterations]
// Each iteration runs the engine's own TrainingStep.Run on one channels-last random batch, with a clock read at each
// stage the step marks; prints the mean milliseconds per stage over the iterations after the first three.
using System.Diagnostics;
using Smile.Methods;
using Smile.Models;
using Smile.Native;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

AllocatorPolicy.Apply(); // as the CLI does before its first tensor: without it a step page-faults its activations afresh
torch.set_num_threads(2);
string regularizer = args.ElementAtOrDefault(0) ?? "l2";
bool bf16 = args.ElementAtOrDefault(1) != "fp32";
int iterations = int.Parse(args.ElementAtOrDefault(2) ?? "23");
if (Environment.GetEnvironmentVariable("PRE") == "1") Pre();
torch.random.manual_seed(0);
var teacher = ModelFactory.Create("resnet50", 1000);
teacher.eval();
foreach (var p in teacher.parameters()) p.requires_grad = false;
var student = ModelFactory.Create("resnet50", 200, 1000);
student.train();
using var context = new TrainingContext(student, teacher, new LossOptions())
{ FoldTeacherBatchNorm = true, Precision = bf16 ? MixedPrecision.Create("bf16", out _) : MixedPrecision.Create("fp32", out _), ChannelsLast = true };
using var sgd = new NesterovSgd(student.named_parameters().Select(p => (p.name, p.parameter, true)), 0.01);
var x = CudaSpeed.ToChannelsLast(randn(16, 3, 224, 224));
var y = randint(0, 200, 16);
var method = Regularizers.Create(regularizer);
var rng = new Random(0);
var timer = new Clock();
var total = Stopwatch.StartNew();
long faults = MinorFaults();
for (int i = 0; i < iterations; i++)
{
    if (i == 3) { timer.Ms.Clear(); total.Restart(); faults = MinorFaults(); }
    timer.Start();
    TrainingStep.Run(context, method, sgd, new StepBatch(x, y), method.DrawMix(rng, 16), i, timer);
    NativeGarbage.Release();
    timer.Mark(StepStage.Release);
}
int n = iterations - 3;
foreach (var (stage, ms) in timer.Ms) Console.WriteLine($"{stage,-16} {ms / n,8:F1} ms");
Console.WriteLine($"{"step",-16} {total.Elapsed.TotalMilliseconds / n,8:F1} ms, {(MinorFaults() - faults) / n} minor page faults");

static long MinorFaults() => long.Parse(File.ReadAllText("/proc/self/stat").Split(") ")[1].Split(' ')[7]);

static void Pre()
{
    // What `smile bench train` runs in the same process before its channels-last rows: an NCHW workload.
    var t = ModelFactory.Create("resnet50", 1000); t.eval();
    foreach (var p in t.parameters()) p.requires_grad = false;
    var s = ModelFactory.Create("resnet50", 200, 1000); s.train();
    using (var c = new TrainingContext(s, t, new LossOptions()) { FoldTeacherBatchNorm = true, Precision = MixedPrecision.Create("bf16", out _) })
    using (var o = new NesterovSgd(s.named_parameters().Select(p => (p.name, p.parameter, true)), 0.01))
    using (var px = randn(16, 3, 224, 224)) using (var py = randint(0, 200, 16))
    {
        var m = Regularizers.Create("smile"); var r = new Random(0);
        for (int i = 0; i < 30; i++) { TrainingStep.Run(c, m, o, new StepBatch(px, py), m.DrawMix(r, 16), i); NativeGarbage.Release(); }
    }
    s.Dispose(); t.Dispose();
    NativeGarbage.Release();
}

sealed class Clock : IStepTimer
{
    public readonly Dictionary<StepStage, double> Ms = new();
    private long last;
    public void Start() => last = Stopwatch.GetTimestamp();
    public void Mark(StepStage stage)
    {
        long now = Stopwatch.GetTimestamp();
        Ms[stage] = Ms.GetValueOrDefault(stage) + Stopwatch.GetElapsedTime(last, now).TotalMilliseconds;
        last = now;
    }
}

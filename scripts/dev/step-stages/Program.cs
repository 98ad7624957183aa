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
var (context, sgd) = Setup(MixedPrecision.Create(bf16 ? "bf16" : "fp32", out _), channelsLast: true);
var x = CudaSpeed.ToChannelsLast(randn(16, 3, 224, 224));
var y = randint(0, 200, 16);
var method = Regularizers.Create(regularizer);
var rng = new Random(0);
var timer = new Clock();
var total = Stopwatch.StartNew();
long faults = MinorFaults();
int[] collections = new int[3];
for (int i = 0; i < iterations; i++)
{
    if (i == 3) { timer.Ms.Clear(); total.Restart(); faults = MinorFaults(); collections = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)]; }
    timer.Start();
    TrainingStep.Run(context, method, sgd, new StepBatch(x, y), method.DrawMix(rng, 16), i, timer);
    NativeGarbage.Release();
    timer.Mark(StepStage.Release);
}
int n = iterations - 3;
foreach (var (stage, ms) in timer.Ms) Console.WriteLine($"{stage,-16} {ms / n,8:F1} ms");
Console.WriteLine($"{"step",-16} {total.Elapsed.TotalMilliseconds / n,8:F1} ms, {(MinorFaults() - faults) / n} minor page faults; " +
    $".NET collections in the {n} steps: gen0 {GC.CollectionCount(0) - collections[0]}, gen1 {GC.CollectionCount(1) - collections[1]}, gen2 {GC.CollectionCount(2) - collections[2]}");
sgd.Dispose();
context.Dispose();

static long MinorFaults() => long.Parse(File.ReadAllText("/proc/self/stat").Split(") ")[1].Split(' ')[7]);

// The benchmarks' pair (src/Smile.Bench/BenchmarkWorkload.cs): a frozen 1000-class teacher and a 200-class student
// with a 1000-class aux head, seeded, and the trainer's optimizer.
static (TrainingContext, NesterovSgd) Setup(MixedPrecision precision, bool channelsLast)
{
    torch.random.manual_seed(0);
    var teacher = ModelFactory.Create("resnet50", 1000);
    teacher.eval();
    foreach (var p in teacher.parameters()) p.requires_grad = false;
    var student = ModelFactory.Create("resnet50", 200, 1000);
    student.train();
    if (channelsLast) CudaSpeed.WeightsToChannelsLast(student); // as a run does
    var context = new TrainingContext(student, teacher, new LossOptions()) { FoldTeacherBatchNorm = true, Precision = precision, ChannelsLast = channelsLast };
    return (context, new NesterovSgd(student.named_parameters().Select(p => (p.name, p.parameter, true)), 0.01));
}

static void Pre()
{
    // What `smile bench train` runs in the same process before its channels-last rows: an NCHW workload.
    var (c, o) = Setup(MixedPrecision.Create("bf16", out _), channelsLast: false);
    using (var px = randn(16, 3, 224, 224)) using (var py = randint(0, 200, 16))
    {
        var m = Regularizers.Create("smile"); var r = new Random(0);
        for (int i = 0; i < 30; i++) { TrainingStep.Run(c, m, o, new StepBatch(px, py), m.DrawMix(r, 16), i); NativeGarbage.Release(); }
    }
    o.Dispose(); c.Student.Dispose(); c.Teacher?.Dispose(); c.Dispose();
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

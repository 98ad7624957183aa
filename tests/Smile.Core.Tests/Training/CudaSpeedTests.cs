using Smile.Methods;
using Smile.Models;
using Smile.Native;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

/// <summary>The CUDA speed switches, checked on the CPU: LibTorch's context setters and getters bound by name, and
/// channels-last batches through a real training step. In the default-device collection: it changes process-wide state.</summary>
[Collection(nameof(DefaultDeviceCollection))]
public sealed class CudaSpeedTests
{
    [Fact]
    public void TheContextSwitchesResolveAndRoundTrip()
    {
        Assert.True(CudaSwitches.Available, CudaSwitches.Unavailable);
        bool benchmark = CudaSwitches.CudnnBenchmark, matmul = CudaSwitches.Tf32Matmul, conv = CudaSwitches.Tf32Convolution;
        try
        {
            foreach (bool value in new[] { !benchmark, benchmark, true, false })
            {
                CudaSwitches.CudnnBenchmark = value;
                Assert.Equal(value, CudaSwitches.CudnnBenchmark);
            }
            foreach (bool value in new[] { true, false, true })
            {
                CudaSwitches.Tf32Matmul = value;
                Assert.Equal(value, CudaSwitches.Tf32Matmul);
                CudaSwitches.Tf32Convolution = !value; // the two are separate settings
                Assert.Equal(!value, CudaSwitches.Tf32Convolution);
                Assert.Equal(value, CudaSwitches.Tf32Matmul);
            }
        }
        finally
        {
            CudaSwitches.CudnnBenchmark = benchmark;
            CudaSwitches.Tf32Matmul = matmul;
            CudaSwitches.Tf32Convolution = conv;
        }
    }

    [Fact]
    public void OnTheCpuTheSwitchesAreLeftAloneAndChannelsLastIsOffUnlessAskedFor()
    {
        bool benchmark = CudaSwitches.CudnnBenchmark;
        var line = new CudaSpeed(CudnnBenchmark: !benchmark, Tf32: true).Apply(CPU, out var warning);
        Assert.Null(warning);
        Assert.Equal(benchmark, CudaSwitches.CudnnBenchmark);
        Assert.Contains("do not apply on the CPU; channels-last off", line);
        Assert.False(new CudaSpeed().ChannelsLastOn(CPU));
        Assert.True(new CudaSpeed(ChannelsLast: "on").ChannelsLastOn(CPU));
        Assert.True(new CudaSpeed().ChannelsLastOn(new Device(DeviceType.CUDA, 0)));
        Assert.False(new CudaSpeed(ChannelsLast: "off").ChannelsLastOn(new Device(DeviceType.CUDA, 0)));
        var e = Assert.Throws<ModelConfigException>(() => new CudaSpeed(ChannelsLast: "nhwc").ChannelsLastOn(CPU));
        Assert.Contains("`channels_last` nhwc", e.Message);
    }

    [Fact]
    public void ChannelsLastKeepsTheValuesAndChangesTheStrides()
    {
        using var scope = NewDisposeScope();
        var x = randn(2, 3, 5, 7);
        var cl = CudaSpeed.ToChannelsLast(x);
        Assert.Equal(x.shape, cl.shape);
        Assert.Equal(new long[] { 105, 1, 21, 3 }, cl.stride());
        Assert.Equal(0f, (x - cl).abs().max().item<float>());
    }

    /// <summary>`smile bench train` times the step as a run has it: on CUDA a run's defaults put the batch
    /// channels-last; on the CPU nothing changes unless asked for (here: asked, to see the layout reach the batch).</summary>
    [Fact]
    public void TheBenchmarkWorkloadLaysOutItsBatchAsARunDoes()
    {
        using (var plain = new Smile.Bench.BenchmarkWorkload("resnet18", 32, 2))
        {
            Assert.False(plain.ChannelsLast);
            Assert.Equal(new long[] { 3 * 32 * 32, 32 * 32, 32, 1 }, plain.BatchStrides);
            Assert.Contains("do not apply on the CPU; channels-last off", plain.SpeedLine);
        }
        using var nhwc = new Smile.Bench.BenchmarkWorkload("resnet18", 32, 2, speed: new CudaSpeed(ChannelsLast: "on"));
        Assert.True(nhwc.ChannelsLast);
        Assert.Equal(new long[] { 3 * 32 * 32, 1, 32 * 3, 3 }, nhwc.BatchStrides);
        Assert.Contains("channels-last on", nhwc.SpeedLine);
        using var smile = Regularizers.Create("smile");
        nhwc.Step(smile, 0); // the engine's step and the folded eval forward take the NHWC batch
        nhwc.Eval();
    }

    /// <summary>At 64x64, where layer4's maps are 2x2. At 32x32 they are 1x1, and BatchNorm over a batch of 4 single
    /// values amplifies rounding: there the SMILE step's conv1 update (largest 0.16) moved by up to 0.0093 between the
    /// layouts, in NCHW against NCHW by 0 (measured with this test's step, 2026-12-03).</summary>
    [Theory]
    [InlineData("l2")]
    [InlineData("smile")]
    public void AChannelsLastTrainingStepGivesTheNchwLossAndUpdate(string methodName)
    {
        var (_, start) = Step(methodName, channelsLast: false, lr: 0);
        var (loss, weight) = Step(methodName, channelsLast: false);
        var (clLoss, clWeight) = Step(methodName, channelsLast: true);
        Assert.True(Math.Abs(loss - clLoss) <= 1e-5 * Math.Max(1, Math.Abs(loss)), $"loss NCHW {loss}, channels-last {clLoss}");
        double update = start.Zip(weight, (a, b) => Math.Abs(a - b)).Max();
        double largest = weight.Zip(clWeight, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(update > 0, "the step did not update conv1");
        Assert.True(largest <= 1e-3 * update, $"conv1 after the step differs by up to {largest} between the layouts (the update: up to {update})");
    }

    /// <summary>One step of <paramref name="methodName"/> on ResNet-18 at 64x64 from seeded weights and a seeded batch;
    /// the loss and the student's conv1 weights after the update.</summary>
    private static (double Loss, float[] Conv1) Step(string methodName, bool channelsLast, double lr = 0.01)
    {
        using var method = Regularizers.Create(methodName);
        torch.random.manual_seed(21);
        using var teacher = method.NeedsTeacher ? ModelFactory.Create("resnet18", 10) : null;
        teacher?.eval();
        using var student = ModelFactory.Create("resnet18", 3, method.NeedsTeacher ? 10 : null);
        student.train();
        using var ctx = new TrainingContext(student, teacher, new LossOptions(1e-4, method.DefaultL2spLambda));
        using var optimizer = Optimizers.Create("sgd",
            student.named_parameters().Select(p => (p.name, p.parameter, method.WeightDecayApplies(p.name))), lr, 1e-4);
        using var scope = NewDisposeScope();
        var generator = new Generator(5);
        var images = randn([4, 3, 64, 64], generator: generator);
        if (channelsLast) images = CudaSpeed.ToChannelsLast(images);
        var labels = randint(0, 3, [4], generator: generator);
        var mix = method.UsesMixup ? method.DrawMix(new Random(7), 4) : null;
        var result = TrainingStep.Run(ctx, method.ForIteration(0, 100), optimizer, new StepBatch(images, labels), mix, 0);
        var conv1 = student.named_parameters().First(p => p.name == "conv1.weight").parameter;
        return (result.Loss, conv1.detach().contiguous().data<float>().ToArray());
    }
}

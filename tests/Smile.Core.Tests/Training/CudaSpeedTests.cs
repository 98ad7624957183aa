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

    /// <summary>"auto" on the CPU: channels-last for a ResNet under bf16/fp16 autocast where oneDNN has kernels for that
    /// type (and can work with the cache sizes), NCHW for fp32, for other models, and where oneDNN lacks the kernels;
    /// "on" and "off" are kept as asked.</summary>
    [Fact]
    public void ForARunAutoPutsLowPrecisionResNetsChannelsLastWhereOneDnnHasTheKernels()
    {
        var avx2 = new Smile.Diagnostics.CpuInfo("AVX2 CPU", ["avx", "avx2", "fma"], []);
        var avx512 = new Smile.Diagnostics.CpuInfo("AVX-512 CPU", ["avx2", "avx512f", "avx512bw", "avx512vl", "avx512dq"], []);
        var fp16Cpu = new Smile.Diagnostics.CpuInfo("AVX-512 FP16 CPU", ["avx2", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_fp16"], []);
        var bf16 = MixedPrecision.Create("bf16", out _);
        var fp16 = MixedPrecision.Create("fp16", out _);
        using var resnet = ModelFactory.Create("resnet18", 3); // building it settles oneDNN's cache sizes (OneDnnCacheSizes)
        using var shallow = ModelFactory.Create(ShallowCnn.Name, 3);
        bool seesCaches = PointwiseConv2d.OneDnnSeesCaches;
        var auto = new CudaSpeed();

        Assert.Equal(seesCaches, auto.ForRun(resnet, bf16, avx512).ChannelsLastOn(CPU));
        Assert.Equal(seesCaches, auto.ForRun(resnet, fp16, fp16Cpu).ChannelsLastOn(CPU));
        Assert.False(auto.ForRun(resnet, bf16, avx2).ChannelsLastOn(CPU));   // bf16 as rounded fp32 convolutions there
        Assert.False(auto.ForRun(resnet, fp16, avx512).ChannelsLastOn(CPU)); // no fp16 kernels without AVX-512 FP16
        Assert.False(auto.ForRun(resnet, MixedPrecision.Fp32, avx512).ChannelsLastOn(CPU));
        Assert.False(auto.ForRun(shallow, bf16, avx512).ChannelsLastOn(CPU));
        Assert.False(new CudaSpeed(ChannelsLast: "off").ForRun(resnet, bf16, avx512).ChannelsLastOn(CPU));
        Assert.True(new CudaSpeed(ChannelsLast: "on").ForRun(resnet, MixedPrecision.Fp32, avx2).ChannelsLastOn(CPU));
        Assert.True(auto.ForRun(resnet, MixedPrecision.Fp32, avx2).ChannelsLastOn(new Device(DeviceType.CUDA, 0)));

        if (!seesCaches) return;
        string line = auto.ForRun(resnet, bf16, avx512).Apply(CPU, out var warning);
        Assert.Null(warning);
        Assert.EndsWith("channels-last on (auto: a ResNet under bf16/fp16 autocast on oneDNN's kernels for it)", line);
        Assert.EndsWith("channels-last on", new CudaSpeed(ChannelsLast: "on").ForRun(resnet, bf16, avx512).Apply(CPU, out _));
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
        Assert.True(CudaSpeed.IsChannelsLast(cl));
        Assert.False(CudaSpeed.IsChannelsLast(x));
        Assert.False(CudaSpeed.IsChannelsLast(CudaSpeed.ToChannelsLast(randn(4, 3, 1, 1)))); // a 1x1 kernel's strides are NCHW's too
    }

    /// <summary>A model's weights made channels-last in place: the same Parameter objects and values, NHWC strides on
    /// the 4-D ones, the rest untouched.</summary>
    [Fact]
    public void WeightsToChannelsLastKeepsTheParametersAndTheirValues()
    {
        using var scope = NewDisposeScope();
        using var model = ModelFactory.Create("resnet18", 3);
        var before = model.named_parameters().ToDictionary(p => p.name, p => (p.parameter, Values: p.parameter.detach().clone()));
        CudaSpeed.WeightsToChannelsLast(model);
        foreach (var (name, p) in model.named_parameters())
        {
            Assert.Same(before[name].parameter, p);
            Assert.True(p.requires_grad, name);
            Assert.True(before[name].Values.allclose(p, rtol: 0, atol: 0), $"{name} changed value");
            Assert.Equal(p.dim() == 4 && p.shape[2] * p.shape[3] > 1, CudaSpeed.IsChannelsLast(p));
        }
    }

    /// <summary>`smile bench train` times the step as a run has it: on CUDA a run's defaults put the batch
    /// channels-last; on the CPU an fp32 run's batch stays NCHW unless asked for (here: asked, to see the layout reach
    /// the batch).</summary>
    [Fact]
    public void TheBenchmarkWorkloadLaysOutItsBatchAsARunDoes()
    {
        using (var plain = new Smile.Bench.BenchmarkWorkload("resnet18", 32, 2))
        {
            Assert.False(plain.ChannelsLast);
            Assert.Equal(new long[] { 3 * 32 * 32, 32 * 32, 32, 1 }, plain.BatchStrides);
            Assert.Contains("do not apply on the CPU; channels-last off", plain.SpeedLine);
        }
        // Under bf16 a run on this CPU puts a ResNet's batches channels-last where oneDNN has bf16 kernels.
        using (var bf16 = new Smile.Bench.BenchmarkWorkload("resnet18", 32, 2, precision: MixedPrecision.Create("bf16", out _)))
            Assert.Equal(CudaSpeed.CpuPrefersChannelsLast(MixedPrecision.Create("bf16", out _)), bf16.ChannelsLast);
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
        if (channelsLast) CudaSpeed.WeightsToChannelsLast(student); // as a channels-last run does
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
        Assert.Equal(channelsLast, CudaSpeed.IsChannelsLast(conv1)); // the optimizer kept the weights' layout
        return (result.Loss, conv1.detach().contiguous().data<float>().ToArray());
    }
}

using Smile.Methods;
using Smile.Models;
using Smile.Native;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

/// <summary>bf16 and fp16 through LibTorch's autocast on the CPU, and fp16's loss scaler.</summary>
public sealed class MixedPrecisionTests
{
    [Fact]
    public void AutocastRunsALinearInBf16AndRestoresFp32()
    {
        Assert.True(Autocast.Available, Autocast.Unavailable);
        using var scope = NewDisposeScope();
        var linear = nn.Linear(8, 4);
        var x = randn(2, 8);
        using (Autocast.Enter(DeviceType.CPU, ScalarType.BFloat16))
        {
            Assert.True(Autocast.IsOn(DeviceType.CPU));
            var y = linear.call(x);
            Assert.Equal(ScalarType.BFloat16, y.dtype);
            y.to(ScalarType.Float32).sum().backward();
        }
        Assert.False(Autocast.IsOn(DeviceType.CPU));
        Assert.Equal(ScalarType.Float32, linear.call(x).dtype);
        Assert.Equal(ScalarType.Float32, linear.weight!.grad!.dtype); // the weights and their gradients stay fp32
    }

    [Theory]
    [InlineData("bf16")]
    [InlineData("fp16")]
    public void AMixedPrecisionSmileStepIsCloseToFp32AndKeepsFp32Weights(string name)
    {
        var fp32 = SmileStep(MixedPrecision.Fp32);
        // fp16 from a moderate scale: at GradScaler's 2^16 this untrained pair's first update overflows (and is skipped,
        // as PyTorch's would be); the overflow case is the next test.
        var mixed = SmileStep(name == "fp16" ? MixedPrecision.Fp16(new LossScaler(initialScale: 128)) : MixedPrecision.Create(name, out var fallback));
        Assert.False(mixed.Result.UpdateSkipped);
        Assert.True(Math.Abs(mixed.Result.Loss - fp32.Result.Loss) < 0.05 * Math.Abs(fp32.Result.Loss),
            $"{name} loss {mixed.Result.Loss} against fp32 {fp32.Result.Loss}");
        Assert.NotEqual(fp32.Result.Loss, mixed.Result.Loss); // the low precision did compute
        Assert.All(mixed.Dtypes, d => Assert.Equal(ScalarType.Float32, d));
        Assert.True(mixed.WeightChange > 0.5 * fp32.WeightChange && mixed.WeightChange < 2 * fp32.WeightChange,
            $"{name} moved the weights by {mixed.WeightChange}, fp32 by {fp32.WeightChange}");
    }

    [Fact]
    public void AnOverflowingFp16UpdateIsSkippedAndTheScaleLowered()
    {
        var scaler = new LossScaler(initialScale: 1e30); // planted: the scaled gradients overflow fp16 and fp32
        var step = SmileStep(MixedPrecision.Fp16(scaler));
        Assert.True(double.IsFinite(step.Result.Loss));
        Assert.True(step.Result.UpdateSkipped);
        Assert.Equal(0, step.WeightChange); // no update, no mean-teacher move of the student
        Assert.Equal(5e29, scaler.Scale);
        Assert.Equal(0, scaler.GoodSteps);
    }

    [Fact]
    public void TheScalerUnscalesExactlyAndGrowsAfterItsInterval()
    {
        var scaler = new LossScaler(initialScale: 8, growthInterval: 2);
        using var scope = NewDisposeScope();
        var p = new TorchSharp.Modules.Parameter(zeros(3));
        p.grad = tensor(new float[] { 8, 16, -4 });
        Assert.True(scaler.Unscale([p]));
        Assert.Equal(new float[] { 1, 2, -0.5f }, p.grad.data<float>().ToArray());
        Assert.Equal(8, scaler.Scale);
        Assert.True(scaler.Unscale([p]));
        Assert.Equal(16, scaler.Scale); // two good steps: doubled
        p.grad = tensor(new float[] { 1, float.NaN, 2 });
        Assert.False(scaler.Unscale([p]));
        Assert.Equal(8, scaler.Scale);
        Assert.Equal(new float[] { 1, 2 }, p.grad.data<float>().ToArray().Where(float.IsFinite).ToArray()); // left as it was
    }

    [Fact]
    public void TheLossScaleSurvivesTheRunState()
    {
        var progress = RunProgress.Fresh with { StepsDone = 7, LossScale = 2048, LossScaleGoodSteps = 13 };
        var back = RunProgress.FromJson(progress.ToJson())!;
        Assert.Equal(2048, back.LossScale);
        Assert.Equal(13, back.LossScaleGoodSteps);
        Assert.Null(RunProgress.FromJson(RunProgress.Fresh.ToJson())!.LossScale);
    }

    [Fact]
    public void AnUnknownPrecisionNamesTheSetting()
    {
        var e = Assert.Throws<ModelConfigException>(() => MixedPrecision.Create("fp8", out _));
        Assert.StartsWith("`precision` fp8:", e.Message);
    }

    [Fact]
    public void LowPrecisionOnACpuWithoutItsKernelsRoundsConvolutionsAndSaysItIsNoFaster()
    {
        var bf16 = MixedPrecision.Create("bf16", out _);
        var fp16 = MixedPrecision.Create("fp16", out _);
        var avx2 = new Smile.Diagnostics.CpuInfo("AVX2 CPU", ["avx", "avx2", "fma"], []);
        var avx512 = new Smile.Diagnostics.CpuInfo("AVX-512 CPU", ["avx2", "avx512f", "avx512bw", "avx512vl", "avx512dq"], []);
        var gpu = new Device(DeviceType.CUDA, 0);
        Assert.True(bf16.RoundsConvolutions(CPU, avx2));
        Assert.True(fp16.RoundsConvolutions(CPU, avx2));
        Assert.False(bf16.RoundsConvolutions(CPU, avx512));
        Assert.True(fp16.RoundsConvolutions(CPU, avx512)); // oneDNN's fp16 kernels ask for AVX-512 FP16
        Assert.False(fp16.RoundsConvolutions(CPU, avx512 with { Isa = [.. avx512.Isa, "avx512_fp16"] }));
        Assert.False(bf16.RoundsConvolutions(gpu, avx2)); // a GPU's kernels do not depend on the host CPU
        Assert.False(MixedPrecision.Fp32.RoundsConvolutions(CPU, avx2));
        // avx512f alone is not enough: LibTorch's bf16 check asks for BW, VL and DQ
        Assert.True(bf16.RoundsConvolutions(CPU, avx512 with { Isa = ["avx2", "avx512f", "avx512bw", "avx512vl"] }));

        var warning = bf16.SpeedWarning(CPU, avx2);
        Assert.NotNull(warning);
        Assert.Contains("AVX2 CPU", warning);
        Assert.Contains("no faster than fp32", warning);
        Assert.Contains("AVX-512 FP16", fp16.SpeedWarning(CPU, avx2));
        Assert.Null(bf16.SpeedWarning(CPU, avx512));
        Assert.Null(bf16.SpeedWarning(gpu, avx2));
        Assert.Null(MixedPrecision.Fp32.SpeedWarning(CPU, avx2));
    }

    [Fact]
    public void TheRegionOfABf16StepOnSuchACpuRoundsConvolutionsAndLeavingItStops()
    {
        var bf16 = MixedPrecision.Create("bf16", out _);
        Assert.Null(LowPrecisionConvolution.Rounding);
        using (bf16.Enter(CPU))
        {
            Assert.True(Autocast.IsOn(DeviceType.CPU));
            Assert.Equal(bf16.RoundsConvolutions(CPU) ? ScalarType.BFloat16 : null, LowPrecisionConvolution.Rounding);
        }
        Assert.Null(LowPrecisionConvolution.Rounding);
        Assert.False(Autocast.IsOn(DeviceType.CPU));
    }

    private sealed record StepOutcome(StepResult Result, IReadOnlyList<ScalarType> Dtypes, double WeightChange);

    /// <summary>The seeded starting point every step of these tests shares: teacher and student weights (buffers
    /// included) and the images, drawn once. xUnit runs other test classes in parallel, and they draw from the same
    /// global LibTorch generator, so re-seeding before each step would not give each step the same start (a CI run
    /// compared an fp16 step with an fp32 step from different weights).</summary>
    private static readonly Lazy<(Dictionary<string, Tensor> Teacher, Dictionary<string, Tensor> Student, Tensor Images)> Start = new(() =>
    {
        torch.random.manual_seed(11);
        using var teacher = ModelFactory.Create("resnet18", 10);
        using var student = ModelFactory.Create("resnet18", 3, 10);
        static Dictionary<string, Tensor> Keep(Dictionary<string, Tensor> state) =>
            state.ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().DetachFromDisposeScope());
        return (Keep(teacher.state_dict()), Keep(student.state_dict()), randn(6, 3, 32, 32).DetachFromDisposeScope());
    });

    /// <summary>One SMILE step of the shared ResNet-18 pair (32x32, batch 6) in <paramref name="precision"/>: the step's
    /// result, the dtypes of the weights, gradients and outputs afterwards, and how far the weights moved.</summary>
    private static StepOutcome SmileStep(MixedPrecision precision)
    {
        var start = Start.Value;
        using var teacher = ModelFactory.Create("resnet18", 10);
        teacher.load_state_dict(start.Teacher);
        teacher.eval();
        using var student = ModelFactory.Create("resnet18", 3, 10);
        student.load_state_dict(start.Student);
        student.train();
        using var method = Regularizers.Create("smile");
        using var ctx = new TrainingContext(student, teacher, new LossOptions()) { Precision = precision };
        using var optimizer = Optimizers.Create("sgd", student.named_parameters().Select(p => (p.name, p.parameter, method.WeightDecayApplies(p.name))), 0.01, 1e-4);
        using var scope = NewDisposeScope();
        var before = student.parameters().Select(p => p.detach().clone()).ToList();
        var images = start.Images;
        var labels = tensor(new long[] { 0, 1, 2, 0, 1, 2 });
        var result = TrainingStep.Run(ctx, method, optimizer, new StepBatch(images, labels), method.DrawMix(new Random(2), 6), 0);
        double change = student.parameters().Zip(before, (p, b) => (p - b).abs().sum().item<float>()).Sum();
        var dtypes = student.parameters().Select(p => p.dtype)
            .Concat(student.parameters().Where(p => p.grad is not null).Select(p => p.grad!.dtype)).ToList();
        using (precision.Enter(ctx.Device))
        {
            var output = student.call(images);
            dtypes.Add(output.Logits.dtype);
            dtypes.Add(output.Features.dtype);
        }
        return new StepOutcome(result, dtypes, change);
    }
}

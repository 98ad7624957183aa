using System.Globalization;
using Smile.Methods;
using Smile.Models;
using Smile.Training;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

/// <summary>Runs python/lwf_cotuning_reference.py once (about 225 MB in a temporary folder, deleted afterwards).</summary>
public sealed class LwfCoTuningReferenceFixture : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("smile-lwfco-").FullName;

    public LwfCoTuningReferenceFixture() => PythonRunner.Run("lwf_cotuning_reference.py", Dir);

    public string File(string name) => Path.Combine(Dir, name);

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

/// <summary>
/// The lwf and cotuning methods against TLlib's definitions in PyTorch (python/lwf_cotuning_reference.py) on the same
/// resnet18 weights and batch: the student (a 5-class fc and a 10-class aux_fc) in train mode, the source network in
/// eval mode. Loss and the method's term within 1e-5 relative; each parameter's gradient within 1e-4 of its largest
/// entry. The category relationship (direct and reverse) from the same source network on the same 30 images.
/// </summary>
public sealed class LwfCoTuningParityTests(LwfCoTuningReferenceFixture reference) : IClassFixture<LwfCoTuningReferenceFixture>
{
    [Theory]
    [InlineData("lwf")]        // TLlib's defaults, lambda 4 and T 3, given as the defaults
    [InlineData("lwf_custom")] // lambda 0.7, T 1.5, given as settings
    public void LwfLossAndGradientsMatchPyTorch(string caseName)
    {
        using var scope = NewDisposeScope();
        var (expected, meta) = SafetensorsFile.ReadWithMetadata(reference.File($"{caseName}.safetensors"));
        var values = caseName == "lwf" ? new MethodValues()
            : new MethodValues().With("lwf_lambda", Number(meta["lambda"])).With("lwf_temperature", Number(meta["temperature"]));
        using var method = Regularizers.Configure("lwf", values);
        var lwf = Assert.IsType<LwfRegularizer>(method);
        Assert.Equal(Number(meta["lambda"]), lwf.Lambda);
        Assert.Equal(Number(meta["temperature"]), lwf.Temperature);
        CheckAgainst(method, expected, "lwf", caseName);
    }

    [Fact]
    public void CoTuningLossAndGradientsMatchPyTorch()
    {
        using var scope = NewDisposeScope();
        var (expected, meta) = SafetensorsFile.ReadWithMetadata(reference.File("cotuning.safetensors"));
        using var method = Regularizers.Configure("cotuning", new MethodValues());
        var cotuning = Assert.IsType<CoTuningRegularizer>(method);
        Assert.Equal(Number(meta["lambda"]), cotuning.Lambda);
        cotuning.UseRelationship(expected["relationship"]);
        CheckAgainst(method, expected, "cotuning", "cotuning");
    }

    [Fact]
    public void TheDirectRelationshipIsTheClassMeanOfTheSourceSoftmax()
    {
        using var scope = NewDisposeScope();
        var expected = SafetensorsFile.Read(reference.File("relationship.safetensors"));
        using var source = Source();
        Tensor logits;
        using (no_grad()) logits = source.call(expected["images"]).Logits;
        Close(expected["logits"], logits, 1e-4, "source logits");
        var direct = CoTuningRegularizer.DirectRelationship(logits, expected["labels"], 5);
        Close(expected["direct"], direct, 1e-5, "direct relationship");
        Assert.True(direct.sum(1).Minus(1).abs().max().item<double>() < 1e-9, "rows are not distributions");
    }

    [Fact]
    public void TheReverseRelationshipMatchesTheOriginalCodesEstimate()
    {
        using var scope = NewDisposeScope();
        var (expected, meta) = SafetensorsFile.ReadWithMetadata(reference.File("relationship.safetensors"));
        var log = new Serilog.LoggerConfiguration().WriteTo.Sink(new ListSink(out var lines)).CreateLogger();
        var reverse = CoTuningRegularizer.ReverseRelationship(expected["logits"], expected["labels"], 5, log);
        Assert.Contains(lines, l => l.Contains($"C {Number(meta["c"]).ToString(CultureInfo.InvariantCulture)} ", StringComparison.Ordinal));
        Close(expected["reverse"], reverse, 1e-3, "reverse relationship");
        Assert.True(reverse.sum(1).Minus(1).abs().max().item<double>() < 1e-9, "rows are not distributions");
        // Not the direct estimate: the test would pass for the wrong method otherwise.
        Assert.True((reverse - expected["direct"].to(ScalarType.Float64)).abs().max().item<double>() > 0.05);
    }

    [Fact]
    public void TheReverseEstimateHoldsOutEveryFifthImageOfAClassAndTheLastOfASmallClass()
    {
        long[] labels = [0, 0, 0, 0, 0, 0, 1, 1, 2, 0, 0, 0, 0];
        Assert.Equal(
            [false, false, false, false, true, false, false, true, false, false, false, false, true],
            CoTuningRegularizer.HeldOut(labels));
    }

    [Fact]
    public void TheCalibrationScaleMinimisesTheCrossEntropy()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new double[,] { { 2, 0, -1 }, { 0.5, 1, 0 }, { -1, 0, 3 }, { 1, 1, 0 } });
        var labels = tensor(new long[] { 0, 0, 2, 1 });
        double s = CoTuningRegularizer.CalibrationScale(logits, labels);
        double Nll(double scale) => nn.functional.cross_entropy(logits.Times(scale), labels).item<double>();
        Assert.True(Nll(s) <= Nll(s * 1.01) && Nll(s) <= Nll(s * 0.99), $"scale {s} is not a minimum");
        Assert.NotEqual(1.0, s, 3);
    }

    private void CheckAgainst(IRegularizer method, Dictionary<string, Tensor> expected, string term, string caseName)
    {
        using var teacher = Source();
        using var student = ModelFactory.Create("resnet18", 5, 10);
        StateDictLoader.Load(student, SafetensorsFile.Read(reference.File("student.safetensors")), "student.safetensors");
        student.train();
        using var ctx = new TrainingContext(student, teacher, new LossOptions());

        using var losses = method.Loss(ctx, new StepBatch(expected["x"], expected["y"]), null);
        losses.Total.backward();

        AssertClose(expected["loss"].item<float>(), losses.Total.item<float>(), "loss");
        AssertClose(expected["term"].item<float>(), losses.Terms[term].item<float>(), $"{term} term");
        foreach (var (name, parameter) in student.named_parameters())
        {
            var want = expected[$"grad.{name}"];
            var got = parameter.grad ?? throw new InvalidOperationException($"{name} has no gradient");
            double scale = want.abs().max().item<float>();
            double error = (got - want).abs().max().item<float>();
            Assert.True(error <= 1e-4 * scale + 1e-9, $"{caseName} {name}: gradient off by {error:G3} (largest entry {scale:G3})");
        }
        // The source network only provides targets.
        Assert.All(teacher.parameters(), p => Assert.Null(p.grad));
    }

    private ImageClassifier Source()
    {
        var source = ModelFactory.Create("resnet18", 10);
        StateDictLoader.Load(source, SafetensorsFile.Read(reference.File("source.safetensors")), "source.safetensors");
        source.eval();
        foreach (var p in source.parameters()) p.requires_grad = false;
        return source;
    }

    private static double Number(string text) => double.Parse(text, CultureInfo.InvariantCulture);

    private static void Close(Tensor want, Tensor got, double tolerance, string what)
    {
        Assert.Equal(want.shape, got.shape);
        double error = (got.to(ScalarType.Float64) - want.to(ScalarType.Float64)).abs().max().item<double>();
        double scale = Math.Max(1, want.abs().max().to(ScalarType.Float64).item<double>());
        Assert.True(error <= tolerance * scale, $"{what}: off by {error:G3}");
    }

    private static void AssertClose(double want, double got, string what) =>
        Assert.True(Math.Abs(want - got) <= 1e-5 * Math.Abs(want) + 1e-7, $"{what}: {got} vs PyTorch {want}");

    private sealed class ListSink : Serilog.Core.ILogEventSink
    {
        private readonly List<string> lines = [];
        public ListSink(out List<string> lines) => lines = this.lines;
        public void Emit(Serilog.Events.LogEvent logEvent) => lines.Add(logEvent.RenderMessage(CultureInfo.InvariantCulture));
    }
}

/// <summary>The relationship estimates create no tensor off their input's device: run with LibTorch's default device set
/// to meta (as <see cref="DeviceGuardTests"/> does), a tensor made without a device would be a meta tensor and fail.</summary>
[Collection(nameof(DefaultDeviceCollection))]
public sealed class CoTuningRelationshipDeviceTests
{
    [Fact]
    public void TheEstimatesStayOnTheirInputsDevice()
    {
        using var scope = NewDisposeScope();
        torch.random.manual_seed(7);
        var logits = randn(20, 6, device: CPU).Times(3);
        var labels = tensor(Enumerable.Range(0, 20).Select(i => (long)(i % 4)).ToArray(), device: CPU);
        var previous = torch.get_default_device();
        torch.set_default_device(new Device(DeviceType.META));
        try
        {
            foreach (var r in new[] { CoTuningRegularizer.DirectRelationship(logits, labels, 4), CoTuningRegularizer.ReverseRelationship(logits, labels, 4) })
            {
                Assert.Equal(DeviceType.CPU, r.device_type);
                Assert.Equal(new long[] { 4, 6 }, r.shape);
                Assert.True(r.sum(1).Minus(1).abs().max().item<double>() < 1e-9);
            }
        }
        finally
        {
            torch.set_default_device(previous);
        }
    }
}

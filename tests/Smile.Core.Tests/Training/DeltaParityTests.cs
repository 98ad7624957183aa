using System.Globalization;
using Smile.Methods;
using Smile.Models;
using Smile.Training;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

/// <summary>Runs python/delta_reference.py once (about 550 MB in a temporary folder, deleted afterwards; minutes on a CPU).</summary>
public sealed class DeltaReferenceFixture : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("smile-delta-").FullName;

    public DeltaReferenceFixture() => PythonRunner.Run("delta_reference.py", Dir);

    public string File(string name) => Path.Combine(Dir, name);

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

/// <summary>
/// The delta method against TLlib's definition in PyTorch (python/delta_reference.py): loss, its terms and the gradient of
/// every student parameter on the same weights and batch (student in train mode, source in eval mode), for a resnet50
/// (conv3 maps) and a resnet18 (conv2 maps), with attention and without; and the channel attention of TLlib's
/// ablation loop (one filter zeroed per forward) against Smile's batched ablation. The reference loss and gradients are
/// PyTorch's in float64; Smile runs the resnet18 in float32 and the resnet50 in float64 (train-mode BatchNorm over few
/// values makes a random resnet50's gradients so sensitive to rounding that PyTorch's own float32 ones are off by up to
/// 9 % of a tensor's largest entry). Loss within 1e-5 relative; each gradient tensor within 1e-4 of its largest entry plus
/// four times PyTorch's own float32 distance to float64 on that tensor; attention within 1e-3 relative.
/// </summary>
public sealed class DeltaParityTests(DeltaReferenceFixture reference) : IClassFixture<DeltaReferenceFixture>
{
    [Theory]
    [InlineData("resnet50", "on")]
    [InlineData("resnet50", "off")]
    [InlineData("resnet18", "on")]
    [InlineData("resnet18", "off")]
    public void LossAndGradientsMatchPyTorch(string arch, string attention)
    {
        using var scope = NewDisposeScope();
        var (expected, meta) = SafetensorsFile.ReadWithMetadata(reference.File($"{arch}_{attention}.safetensors"));
        using var method = (DeltaRegularizer)Regularizers.Configure("delta", new MethodValues()
            .With("delta_alpha", double.Parse(meta["alpha"], CultureInfo.InvariantCulture))
            .With("delta_beta", double.Parse(meta["beta"], CultureInfo.InvariantCulture))
            .With("delta_attention", attention));
        if (attention == "on") method.UseAttention(Enumerable.Range(0, 4).Select(j => expected[$"att.{j}"].data<float>().ToArray()).ToArray());
        using var source = ModelFactory.Create(arch, 7);
        StateDictLoader.Load(source, SafetensorsFile.Read(reference.File($"{arch}_source.safetensors")), "source");
        source.eval();
        foreach (var p in source.parameters()) p.requires_grad = false;
        using var student = ModelFactory.Create(arch, 5);
        StateDictLoader.Load(student, SafetensorsFile.Read(reference.File($"{arch}_student.safetensors")), "student");
        student.train();
        // The random resnet50's gradients are too sensitive to rounding for float32 (see the summary): its models run in
        // float64, as the reference, apart from the logits, which ClassifierOutput hands over in float32.
        var images = expected["x"];
        if (arch == "resnet50")
        {
            source.to(ScalarType.Float64);
            student.to(ScalarType.Float64);
            images = images.to(ScalarType.Float64);
        }
        using var ctx = new TrainingContext(student, source, new LossOptions());

        using var losses = method.Loss(ctx, new StepBatch(images, expected["y"]), null);
        losses.Total.backward();

        AssertClose(expected["loss"].item<float>(), Value(losses.Total), "loss");
        AssertClose(expected["delta"].item<float>(), Value(losses.Terms["delta"]), "delta term");
        AssertClose(expected["head"].item<float>(), Value(losses.Terms["head"]), "head term");
        foreach (var (name, parameter) in student.named_parameters())
        {
            var want = expected[$"grad.{name}"];
            var got = (parameter.grad ?? throw new InvalidOperationException($"{name} has no gradient")).to(ScalarType.Float32);
            double scale = want.abs().max().item<float>(), noise = expected[$"noise.{name}"].item<float>();
            double error = (got - want).abs().max().item<float>();
            Assert.True(error <= 1e-4 * scale + 4 * noise + 1e-9,
                $"{arch} {attention} {name}: gradient off by {error:G3} (largest entry {scale:G3}, PyTorch's float32 off by {noise:G3})");
        }
        Assert.All(source.parameters(), p => Assert.Null(p.grad));
    }

    [Fact]
    public void ChannelAttentionMatchesTheAblationLoop()
    {
        using var scope = NewDisposeScope();
        var expected = SafetensorsFile.Read(reference.File("resnet18_attention.safetensors"));
        using var source = ModelFactory.Create("resnet18", 7);
        StateDictLoader.Load(source, SafetensorsFile.Read(reference.File("resnet18_source.safetensors")), "source");
        var batches = Enumerable.Range(0, 2).Select(i => (expected[$"x.{i}"], expected[$"y.{i}"]));

        var attention = DeltaRegularizer.ChannelAttention((ResNet)source, expected["head.weight"], expected["head.bias"], batches);

        Assert.Equal(4, attention.Length);
        for (int j = 0; j < 4; j++)
        {
            var want = expected[$"att.{j}"].data<float>().ToArray();
            Assert.Equal(want.Length, attention[j].Length);
            Assert.Equal(1.0, attention[j].Sum(), 4);
            for (int c = 0; c < want.Length; c++)
                Assert.True(Math.Abs(want[c] - attention[j][c]) <= 1e-3 * want[c], $"stage {j + 1} channel {c}: {attention[j][c]} vs PyTorch {want[c]}");
        }
    }

    private static double Value(Tensor scalar) => scalar.to(ScalarType.Float64).item<double>();

    private static void AssertClose(double want, double got, string what) =>
        Assert.True(Math.Abs(want - got) <= 1e-5 * Math.Abs(want) + 1e-7, $"{what}: {got} vs PyTorch {want}");
}

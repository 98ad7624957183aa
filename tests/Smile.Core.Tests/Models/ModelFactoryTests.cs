using Smile.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Models;

public class ModelFactoryTests
{
    [Fact]
    public void UnknownArchitectureIsAClearErrorListingTheKnownOnes()
    {
        var e = Assert.Throws<ModelConfigException>(() => ModelFactory.Create("resnet9", 10));
        Assert.Equal("unknown model architecture 'resnet9'; known: resnet18, resnet34, resnet50, resnet101, resnet152, densenet121, shallow_cnn", e.Message);
    }

    [Theory]
    [InlineData("resnet18", 512)]
    [InlineData("ResNet50", 2048)]
    public void OutputsHaveTheDocumentedShapes(string arch, int channels)
    {
        using var scope = NewDisposeScope();
        using var model = ModelFactory.Create(arch, numClasses: 7, auxClasses: 11);
        model.eval();
        using var _ = no_grad();
        var output = model.call(randn(2, 3, 64, 64));
        Assert.Equal(new long[] { 2, 7 }, output.Logits.shape);
        Assert.Equal(new long[] { 2, channels, 2, 2 }, output.Features.shape);
        Assert.Equal(new long[] { 2, 11 }, output.AuxLogits!.shape);
    }

    [Fact]
    public void WithoutAuxHeadThereIsNoAuxOutputAndNoAuxWeights()
    {
        using var scope = NewDisposeScope();
        using var model = ModelFactory.Create("resnet18", 5);
        Assert.DoesNotContain(model.state_dict().Keys, k => k.StartsWith("aux_fc.", StringComparison.Ordinal));
        model.eval();
        using var _ = no_grad();
        Assert.Null(model.call(randn(1, 3, 32, 32)).AuxLogits);
    }

    [Fact]
    public void SlicedStridedPointwiseConvolutionEqualsTheStridedConvolutionForwardAndBackward()
    {
        using var scope = NewDisposeScope();
        torch.random.manual_seed(3);
        using var conv = new PointwiseConv2d(8, 16, stride: 2);
        var weight = conv.parameters().Single();
        var x = randn(2, 8, 9, 9, requires_grad: true); // odd size: the slice must keep the last row/column like the strided conv
        var sliced = conv.call(x);
        sliced.Squared().sum().backward();
        var gradSliced = x.grad!.clone();
        var gradWSliced = weight.grad!.clone();
        x.grad!.zero_(); weight.grad!.zero_();

        // Forward only of the plain strided kernel on CPU: it is the backward that crashes some machines,
        // so the reference gradient comes from PyTorch's formula instead of running that backward here.
        var strided = nn.functional.conv2d(x.detach(), weight.detach(), strides: new long[] { 2, 2 });
        Assert.Equal(strided.shape, sliced.shape);
        Assert.True((strided - sliced.detach()).abs().max().item<float>() < 1e-5f);

        // d/dx of sum(y^2) for y = W * x[::2, ::2]: 2*y back through W, scattered to the even positions.
        var expectedGradX = zeros_like(x);
        var g = einsum("nohw,oi->nihw", strided.Times(2), weight.detach().squeeze(-1).squeeze(-1));
        expectedGradX[TensorIndex.Ellipsis, TensorIndex.Slice(null, null, 2), TensorIndex.Slice(null, null, 2)] = g;
        Assert.True((expectedGradX - gradSliced).abs().max().item<float>() < 1e-4f);
        var sub = x.detach()[TensorIndex.Ellipsis, TensorIndex.Slice(null, null, 2), TensorIndex.Slice(null, null, 2)];
        var expectedGradW = einsum("nohw,nihw->oi", strided.Times(2), sub).unsqueeze(-1).unsqueeze(-1);
        Assert.True((expectedGradW - gradWSliced).abs().max().item<float>() < 1e-3f);
    }
}

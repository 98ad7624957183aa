using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests;

public class TorchLoadsTests
{
    [Fact]
    public void TorchInitialisesAndRunsAConvolution()
    {
        using var scope = NewDisposeScope();
        // A 3x3 all-ones kernel over a 4x4 all-ones image, no padding: every output is 9.
        var x = ones(1, 1, 4, 4);
        var w = ones(1, 1, 3, 3);
        var y = nn.functional.conv2d(x, w);
        Assert.Equal(new long[] { 1, 1, 2, 2 }, y.shape);
        Assert.All(y.data<float>().ToArray(), v => Assert.Equal(9f, v));
    }
}

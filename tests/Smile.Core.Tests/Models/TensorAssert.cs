using static TorchSharp.torch;

namespace Smile.Tests.Models;

/// <summary>Shape and max |difference| of two tensors, in float64, for the parity tests against PyTorch.</summary>
internal static class TensorAssert
{
    public static void Close(Tensor expected, Tensor actual, string what, double tolerance)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape {string.Join("x", actual.shape)}, expected {string.Join("x", expected.shape)}");
        double maxDiff = (expected.to_type(ScalarType.Float64) - actual.to_type(ScalarType.Float64)).abs().max().item<double>();
        Assert.True(maxDiff <= tolerance, $"{what}: max |difference| {maxDiff:E3} > {tolerance:E0}");
    }
}

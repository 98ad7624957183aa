using Smile.Weights;
using static TorchSharp.torch;

namespace Smile.Tests.Cli;

/// <summary>Comparisons of checkpoint files that the end-to-end tests share.</summary>
internal static class CheckpointAssert
{
    /// <summary>Every tensor of two checkpoints (the student, and the mean teacher where there is one), bit for bit.</summary>
    public static void SameWeights(string expected, string actual)
    {
        using var scope = NewDisposeScope();
        var a = SafetensorsFile.Read(expected);
        var b = SafetensorsFile.Read(actual);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, t) in a)
            Assert.True(t.shape.SequenceEqual(b[name].shape) && t.eq(b[name]).all().item<bool>(), $"{name} differs between {expected} and {actual}");
    }
}

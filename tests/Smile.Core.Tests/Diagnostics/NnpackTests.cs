using Smile.Models;
using Smile.Native;

namespace Smile.Tests.Diagnostics;

public sealed class NnpackTests
{
    [Fact]
    public void BuildingAModelTurnsLibTorchsNnpackFlagOff()
    {
        // Switched back on first, so the model build is what turns it off (and the read-back sees LibTorch's own flag).
        Assert.True(Nnpack.SetEnabled(true));
        Assert.Equal(true, Nnpack.IsEnabled());
        using var model = ModelFactory.Create("shallow_cnn", 2);
        Assert.Equal(false, Nnpack.IsEnabled());
    }
}

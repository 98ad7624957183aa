using Smile.Models;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

/// <summary>Freezing by parameter-name prefix: frozen parameters and their BatchNorms' running statistics stay as loaded
/// through training steps, are absent from the optimizer and its state, and a prefix that names nothing (or a head) is
/// refused with the setting's name.</summary>
public sealed class FrozenPartsTests
{
    [Theory]
    [InlineData("layer1.0.conv1.weight", "layer1", true)]
    [InlineData("layer1.0.conv1.weight", "layer1.0", true)]
    [InlineData("layer10.0.conv1.weight", "layer1", false)]
    [InlineData("conv1.weight", "conv1.weight", true)]
    [InlineData("bn1.bias", "bn", false)]
    public void APrefixNamesWholeSegments(string name, string prefix, bool matches) =>
        Assert.Equal(matches, FrozenParts.Matches(name, prefix));

    [Fact]
    public void FrozenPartsStayAsLoadedThroughStepsAndHaveNoOptimizerState()
    {
        using var scope = NewDisposeScope();
        torch.random.manual_seed(3);
        using var model = ModelFactory.Create("resnet18", 3);
        var before = model.state_dict().ToDictionary(e => e.Key, e => e.Value.clone());
        var parts = FrozenParts.Apply(model, ["conv1", "bn1.", " layer1.0 "]);
        Assert.Equal(["conv1", "bn1", "layer1.0"], parts.Prefixes);
        Assert.Contains("conv1.weight", parts.Parameters);
        Assert.Contains("layer1.0.bn2.bias", parts.Parameters);
        Assert.DoesNotContain("layer1.1.conv1.weight", parts.Parameters);
        Assert.Equal(3, parts.BatchNormCount); // bn1, layer1.0.bn1, layer1.0.bn2
        foreach (var (name, p) in model.named_parameters()) Assert.Equal(!parts.Parameters.Contains(name), p.requires_grad);

        using var sgd = Optimizers.Create("sgd",
            model.named_parameters().Where(p => !parts.Parameters.Contains(p.name)).Select(p => (p.name, p.parameter, true)), 0.05, 1e-4);
        var input = randn(4, 3, 32, 32);
        var labels = tensor(new long[] { 0, 1, 2, 0 });
        for (int step = 0; step < 3; step++)
        {
            model.train(); // as the evaluator leaves it: all of the model in train mode
            parts.HoldBatchNorms();
            using var stepScope = NewDisposeScope();
            sgd.ZeroGrad();
            var loss = nn.functional.cross_entropy(model.call(input).Logits, labels);
            loss.backward();
            sgd.Step();
        }
        var after = model.state_dict();
        foreach (var (name, value) in before)
        {
            bool frozen = parts.Parameters.Contains(name)
                || name.StartsWith("bn1.", StringComparison.Ordinal) || name.StartsWith("layer1.0.bn", StringComparison.Ordinal);
            if (frozen) Assert.True(value.allclose(after[name], 0, 0), $"{name} changed although frozen");
        }
        Assert.False(before["layer1.1.conv1.weight"].allclose(after["layer1.1.conv1.weight"], 0, 0), "a trained parameter did not change");
        Assert.False(before["layer1.1.bn1.running_mean"].allclose(after["layer1.1.bn1.running_mean"], 0, 0), "a trained BatchNorm kept its statistics");
        Assert.DoesNotContain(sgd.State.Keys, k => parts.Parameters.Contains(k));
        Assert.Contains("layer1.1.conv1.weight", sgd.State.Keys);
    }

    [Fact]
    public void APrefixThatMatchesNothingIsRefusedNamingTheSettingAndThePrefix()
    {
        using var model = ModelFactory.Create("resnet18", 3);
        var e = Assert.Throws<ModelConfigException>(() => FrozenParts.Apply(model, ["conv1", "layer9"]));
        Assert.StartsWith("`freeze`: 'layer9' matches no parameter of the resnet18; its parameters start with conv1, bn1, layer1", e.Message);
        Assert.All(model.parameters(), p => Assert.True(p.requires_grad)); // refused before anything changed
    }

    [Fact]
    public void TheHeadCannotBeFrozen()
    {
        using var model = ModelFactory.Create("resnet18", 3);
        var e = Assert.Throws<ModelConfigException>(() => FrozenParts.Apply(model, ["fc"]));
        Assert.Contains("'fc' matches the head parameter 'fc.weight'", e.Message);
    }

    [Fact]
    public void NoPrefixFreezesNothing()
    {
        using var model = ModelFactory.Create("resnet18", 3);
        Assert.Same(FrozenParts.None, FrozenParts.Apply(model, []));
        Assert.All(model.parameters(), p => Assert.True(p.requires_grad));
    }
}

using Smile.Methods;
using Smile.Models;
using Smile.Tests.Models;
using Smile.Training;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

/// <summary>The delta method's settings, its ResNet stage maps (the capture hook) and the attention's normalisation.</summary>
public sealed class DeltaTests
{
    [Fact]
    public void DefaultsAreTheOriginals()
    {
        using var method = (DeltaRegularizer)Regularizers.Configure("delta", new MethodValues());
        Assert.Equal(0.01, method.Alpha);
        Assert.Equal(0.01, method.Beta);
        Assert.True(method.UsesAttention);
        Assert.Equal(4, method.AttentionBatches);
        Assert.Equal(10, method.AttentionEpochs);
        Assert.True(method.NeedsTeacher);
        Assert.False(method.WeightDecayApplies("layer1.0.conv1.weight"));
        Assert.False(method.WeightDecayApplies("fc.weight"));
        Assert.Null(method.Attention);
    }

    [Theory]
    [InlineData("delta_attention", "maybe", "must be on or off")]
    [InlineData("delta_attention_batches", 0L, "must be 1 or more")]
    [InlineData("delta_attention_epochs", -1L, "must be 0 or more")]
    [InlineData("delta_alpha", -1.0, "must be 0 or more")]
    [InlineData("delta_beta", double.NaN, "must be 0 or more")]
    public void BadValuesAreRefusedNamingTheSetting(string setting, object value, string problem)
    {
        var e = Assert.Throws<MethodSettingException>(() => Regularizers.Configure("delta", new MethodValues().With(setting, value)));
        Assert.Equal(setting, e.Setting);
        Assert.Equal(problem, e.Problem);
    }

    [Fact]
    public void ItsSettingsAreRefusedByOtherMethods()
    {
        var e = Assert.Throws<MethodSettingException>(() => Regularizers.Configure("l2", new MethodValues().With("delta_alpha", 0.1)));
        Assert.Equal("is used only by the delta method, not by l2", e.Problem);
        using var off = (DeltaRegularizer)Regularizers.Configure("delta", new MethodValues().With("delta_attention", "off"));
        Assert.False(off.UsesAttention);
    }

    [Theory]
    [InlineData("resnet50", new long[] { 256, 512, 1024, 2048 }, "layer1.2.conv3,layer2.3.conv3,layer3.5.conv3,layer4.2.conv3")]
    [InlineData("resnet18", new long[] { 64, 128, 256, 512 }, "layer1.1.conv2,layer2.1.conv2,layer3.1.conv2,layer4.1.conv2")]
    public void StageMapsAreThePreNormOutputsAndLeaveTheForwardUnchanged(string arch, long[] channels, string layers)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(4);
        using var model = (ResNet)ModelFactory.Create(arch, 3);
        model.eval();
        Assert.Equal(layers.Split(','), model.StageMapLayers);
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        Assert.All(model.StageMapLayers, l => Assert.Contains(l + ".weight", names));
        Assert.DoesNotContain(names, n => n.Contains("capture", StringComparison.OrdinalIgnoreCase)); // torchvision names only

        var x = randn(2, 3, 32, 32);
        var plain = model.call(x);
        var maps = new Tensor[4];
        var inputs = new Tensor[4];
        var captured = model.ForwardWithStageMaps(x, maps, inputs);
        TensorAssert.Close(plain.Logits, captured.Logits, "logits", 1e-6);
        TensorAssert.Close(plain.Features, captured.Features, "features", 1e-6);
        Assert.Equal(channels, maps.Select(m => m.shape[1]));
        // In eval mode the stage-4 map through its BatchNorm, the residual and ReLU gives the features back.
        TensorAssert.Close(captured.Features, model.FeaturesFromStageMap(3, inputs[3], maps[3]), "features from the stage-4 map", 1e-6);
        TensorAssert.Close(captured.Features, model.FeaturesFromStageMap(0, inputs[0], maps[0]), "features from the stage-1 map", 1e-5);
        // Zeroing one channel of the map is zeroing that filter of the convolution.
        var conv = model.named_parameters().Single(p => p.name == model.StageMapLayers[2] + ".weight").parameter;
        using (no_grad())
        {
            var ablated = maps[2].clone();
            ablated[TensorIndex.Colon, TensorIndex.Single(5)] = zeros_like(ablated[TensorIndex.Colon, TensorIndex.Single(5)]);
            var fromMap = model.FeaturesFromStageMap(2, inputs[2], ablated);
            var saved = conv[5].clone();
            conv[5].zero_();
            var fromWeights = model.call(x).Features;
            conv[5].copy_(saved);
            TensorAssert.Close(fromWeights, fromMap, "channel 5 ablated", 1e-5);
        }
    }

    [Fact]
    public void AttentionIsTheSoftmaxOfStandardisedRisesOverFive()
    {
        var a = DeltaRegularizer.Softmax([0.0, 1.0, 2.0]);
        // Standardised: -1.2247, 0, 1.2247 (population std sqrt(2/3)); then softmax of those / 5.
        double z = Math.Sqrt(1.5) / 5, sum = Math.Exp(-z) + 1 + Math.Exp(z);
        Assert.Equal(Math.Exp(-z) / sum, a[0], 6);
        Assert.Equal(1 / sum, a[1], 6);
        Assert.Equal(Math.Exp(z) / sum, a[2], 6);
        Assert.Equal([0.25f, 0.25f, 0.25f, 0.25f], DeltaRegularizer.Softmax([0.3, 0.3, 0.3, 0.3])); // no spread: uniform
    }

    [Theory]
    [InlineData(1e4, 1)] // α·Ω of two unrelated ResNets far above 500 times the CE: one warning, at the first step only
    [InlineData(0.0, 0)] // no feature-map term: no warning
    public void AFeatureMapTermFarAboveTheCrossEntropyAtTheFirstStepIsWarnedOfOnce(double alpha, int warnings)
    {
        using var scope = NewDisposeScope();
        using var method = Regularizers.Configure("delta", new MethodValues().With("delta_attention", "off").With("delta_alpha", alpha));
        var log = new Serilog.LoggerConfiguration().WriteTo.Sink(new DeltaAttentionCacheTests.ListSink(out var lines)).CreateLogger();
        method.Prepare(new MethodSetup(null!, CPU, 32, log));
        manual_seed(3);
        using var source = ModelFactory.Create("resnet18", 4);
        using var student = ModelFactory.Create("resnet18", 3);
        using var ctx = new TrainingContext(student, source, new LossOptions());
        var batch = new StepBatch(randn(2, 3, 32, 32), tensor(new long[] { 0, 1 }));
        var first = method.Loss(ctx, batch, null);
        method.Loss(ctx, batch, null);
        var warned = lines.Where(l => l.StartsWith("DELTA's feature-map term starts at", StringComparison.Ordinal)).ToList();
        Assert.Equal(warnings, warned.Count);
        if (warnings > 0)
        {
            double ratio = first.Terms["delta"].to(ScalarType.Float64).item<double>() / first.Terms["main"].to(ScalarType.Float64).item<double>();
            Assert.True(ratio > DeltaRegularizer.ScaleWarningRatio, $"ratio {ratio}");
            Assert.Contains(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"starts at {ratio:F0} times the cross-entropy"), warned[0]);
            Assert.EndsWith("lower delta_alpha (10000)", warned[0]);
        }
    }

    [Fact]
    public void WithAttentionOnTheLossNeedsTheAttentionFirst()
    {
        using var scope = NewDisposeScope();
        using var method = Regularizers.Configure("delta", new MethodValues());
        using var source = ModelFactory.Create("resnet18", 4);
        using var student = ModelFactory.Create("resnet18", 3);
        using var ctx = new TrainingContext(student, source, new LossOptions());
        var batch = new StepBatch(randn(2, 3, 32, 32), tensor(new long[] { 0, 1 }));
        var e = Assert.Throws<InvalidOperationException>(() => method.Loss(ctx, batch, null));
        Assert.Contains("attention", e.Message);
        e = Assert.Throws<InvalidOperationException>(() => method.BeforeStep(ctx, null!, 0));
        Assert.Contains("Prepare", e.Message);
    }
}

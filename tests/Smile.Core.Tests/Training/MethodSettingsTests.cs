using Smile.Methods;
using Smile.Training;

namespace Smile.Tests.Training;

/// <summary>Methods declare and check their own settings; the registry refuses what a method would silently ignore.</summary>
public sealed class MethodSettingsTests
{
    [Fact]
    public void EverySettingHasOneNameOneTypeAndAValidDefault()
    {
        var all = Regularizers.AllSettings();
        Assert.Equal(all.Count, all.Select(s => s.Setting.Name).Distinct().Count());
        foreach (var (setting, methods) in all)
        {
            Assert.NotEmpty(methods);
            Assert.Null(setting.Problem(setting.DefaultValue));
        }
        // Shared settings are declared once and used by several methods.
        Assert.Equal(["smile", "mixup"], all.Single(s => s.Setting.Name == "alpha").Methods);
        Assert.Equal(["ls", "ils"], all.Single(s => s.Setting.Name == "smoothing").Methods);
    }

    [Theory]
    [InlineData("smile", "alpha", -1.0, "must be 0 or more")]
    [InlineData("smile", "alpha", double.PositiveInfinity, "must be finite")]
    [InlineData("smile", "ema_decay", double.NaN, "must be 0 or more (>= 1 turns the EMA off)")]
    [InlineData("ils", "ils_temperature", 0.0, "must be a positive number")]
    [InlineData("kd", "kd_alpha", 1.5, "must be in [0, 1]")]
    [InlineData("simtrans", "graph_mu", 0.0, "must be a finite number other than 0")]
    [InlineData("lwf", "lwf_lambda", -0.5, "must be 0 or more")]
    [InlineData("lwf", "lwf_temperature", 0.0, "must be a positive number")]
    [InlineData("cotuning", "cotuning_lambda", double.NaN, "must be 0 or more")]
    public void ABadValueNamesItsSetting(string method, string setting, double value, string problem)
    {
        var e = Assert.Throws<MethodSettingException>(() => Regularizers.Configure(method, new MethodValues().With(setting, value)));
        Assert.Equal(setting, e.Setting);
        Assert.Equal(problem, e.Problem);
    }

    [Fact]
    public void ConfiguredValuesReachTheMethod()
    {
        using var smile = (SmileRegularizer)Regularizers.Configure("smile", new MethodValues().With("alpha", 0.4).With("plain_iters", 7L));
        Assert.Equal(0.4, smile.Alpha);
        Assert.Equal(7, smile.PlainIters);
        Assert.Equal(0.1, smile.AuxLambda); // the default
        Assert.Same(smile, smile.ForIteration(92, 100));
        Assert.Equal("l2", smile.ForIteration(93, 100).Name);
    }

    [Fact]
    public void ReferenceFlagsOfOtherMethodsAreIgnoredButTheirInputsAreRefused()
    {
        // A pasted reference command line carries alpha and plain_iters for every method.
        using (Regularizers.Configure("l2", new MethodValues().With("alpha", 0.3).With("plain_iters", 5L))) { }
        // A teacher given to a method that has none would be silently unused.
        var file = Path.GetTempFileName();
        var e = Assert.Throws<MethodSettingException>(() => Regularizers.Configure("l2", new MethodValues().With("ils_teacher", file)));
        Assert.Equal("ils_teacher", e.Setting);
        Assert.Equal("is used only by the ils method, not by l2", e.Problem);
        var missing = Assert.Throws<MethodSettingException>(() => Regularizers.Configure("ils", new MethodValues()));
        Assert.Equal("ils_teacher", missing.Setting);
        File.Delete(file);
    }

    [Fact]
    public void ARegisteredMethodMayNotRedeclareAnotherMethodsSetting()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Regularizers.Register("clashing_alpha", () => new Clashing()));
        Assert.Contains("declare setting 'alpha' differently", e.Message);
        Assert.DoesNotContain("clashing_alpha", Regularizers.Names);
    }

    private sealed class Clashing : IRegularizer
    {
        public string Name => "clashing_alpha";
        public IReadOnlyList<MethodSetting> Settings => [new MethodSetting<double>("alpha", "another alpha", 0.5)];
        public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix) => throw new NotSupportedException();
    }
}

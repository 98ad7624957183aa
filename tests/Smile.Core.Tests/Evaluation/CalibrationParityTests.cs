using System.Text.Json;
using Smile.Evaluation;

namespace Smile.Tests.Evaluation;

/// <summary>The calibration figures and the temperature fit against scikit-learn, NumPy and SciPy
/// (python/calibration_reference.py) on the same float32 logits.</summary>
public sealed class CalibrationParityTests
{
    private static readonly Lazy<JsonElement> Reference = new(() => JsonDocument.Parse(PythonRunner.Run("calibration_reference.py")).RootElement);

    public static TheoryData<string> Cases => new() { "over", "under", "binary", "sharp" };

    private static (EvalOutputs Outputs, JsonElement Case) Load(string name)
    {
        var c = Reference.Value.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        var logits = c.GetProperty("logits").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(v => (float)v.GetDouble())).ToArray();
        var labels = c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        return (new EvalOutputs(logits, labels, c.GetProperty("classes").GetInt32()), c);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryFigureMatchesTheReference(string name)
    {
        var (outputs, c) = Load(name);
        var p = outputs.Probabilities();
        foreach (var m in c.GetProperty("metrics").EnumerateArray())
        {
            int bins = m.GetProperty("bins").GetInt32();
            var r = CalibrationMetrics.Compute(p, outputs.Labels, outputs.Classes, bins);
            void Same(string field, double value) =>
                Assert.True(Math.Abs(m.GetProperty(field).GetDouble() - value) <= 1e-12, $"{name}, {bins} bins, {field}: {value} vs reference {m.GetProperty(field).GetDouble()}");
            Same("accuracy", r.Accuracy);   // sklearn.metrics.accuracy_score
            Same("nll", r.Nll);             // sklearn.metrics.log_loss(eps=1e-15)
            Same("brier", r.Brier);         // numpy: mean(sum((p - onehot)^2, axis=1))
            Same("ece", r.Ece);             // numpy, from the definitions
            Same("mce", r.Mce);
            Same("adaptive_ece", r.AdaptiveEce);
            Same("classwise_ece", r.ClasswiseEce);
        }
    }

    [Fact]
    public void BrierOfTwoClassesIsTwiceScikitLearnsBinaryBrierScore()
    {
        // sklearn's brier_score_loss is mean (p1 - y)²; the multi-class sum adds (p0 - (1 - y))² = (p1 - y)² again.
        var (outputs, c) = Load("binary");
        double brier = CalibrationMetrics.Brier(outputs.Probabilities(), outputs.Labels, 2);
        Assert.Equal(2 * c.GetProperty("binary_brier").GetDouble(), brier, 12);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TheFittedTemperatureMatchesScipysBoundedSearch(string name)
    {
        var (outputs, c) = Load(name);
        double expected = c.GetProperty("temperature").GetDouble();
        double t = TemperatureScaling.Fit(outputs);
        Assert.True(Math.Abs(t / expected - 1) <= 2e-4, $"{name}: T = {t}, SciPy {expected}");
    }
}

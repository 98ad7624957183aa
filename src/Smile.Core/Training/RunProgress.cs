using System.Text.Json;

namespace Smile.Training;

/// <summary>
/// Where a run stands, as its _Last checkpoint records it (metadata "run_state", JSON) so that --resume continues
/// exactly: the steps done, and the model selection so far (the best score, higher is better; the step it was
/// reached at; evaluations since; the best checkpoint's headline metric, top-1 or F1; fp16's loss scale and its good
/// steps, <see cref="LossScaler"/>). <see cref="EvaluationPending"/>
/// says the run stopped after a step whose evaluation did not finish: resuming runs that evaluation first.
/// </summary>
public sealed record RunProgress(long StepsDone, double BestScore, long BestStep, int EvalsSinceBest, double BestMetric, bool EvaluationPending = false,
    double? LossScale = null, int LossScaleGoodSteps = 0)
{
    public static RunProgress Fresh { get; } = new(0, double.NegativeInfinity, -1, 0, 0);

    public bool HasBest => BestStep >= 0;

    private sealed record Stored(long StepsDone, string BestScore, long BestStep, int EvalsSinceBest, string BestMetric, bool EvaluationPending,
        string? LossScale = null, int LossScaleGoodSteps = 0);

    /// <summary>JSON; the doubles as round-trip strings, so that -Infinity (nothing selected yet) survives.</summary>
    public string ToJson() => JsonSerializer.Serialize(new Stored(StepsDone, Text(BestScore), BestStep, EvalsSinceBest, Text(BestMetric), EvaluationPending,
        LossScale is { } scale ? Text(scale) : null, LossScaleGoodSteps));

    /// <summary>Parses <see cref="ToJson"/>'s text; null when <paramref name="json"/> is null (a checkpoint written before
    /// run_state existed); <see cref="FormatException"/> when it is damaged.</summary>
    public static RunProgress? FromJson(string? json)
    {
        if (json is null) return null;
        try
        {
            var s = JsonSerializer.Deserialize<Stored>(json) ?? throw new FormatException("empty run_state");
            var progress = new RunProgress(s.StepsDone, Number(s.BestScore), s.BestStep, s.EvalsSinceBest, Number(s.BestMetric), s.EvaluationPending,
                s.LossScale is { } scale ? Number(scale) : null, s.LossScaleGoodSteps);
            return progress.StepsDone >= 0 && progress.EvalsSinceBest >= 0 ? progress : throw new FormatException($"run_state out of range: {json}");
        }
        catch (Exception e) when (e is JsonException or ArgumentNullException)
        {
            throw new FormatException($"damaged run_state: {e.Message}", e);
        }
    }

    private static string Text(double v) => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
    private static double Number(string s) => double.Parse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture);
}

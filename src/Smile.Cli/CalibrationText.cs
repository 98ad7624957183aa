using System.Globalization;
using Smile.Evaluation;

namespace Smile.Cli;

/// <summary>How test and calibrate print and store the calibration figures, one format for both.</summary>
internal static class CalibrationText
{
    public static string Line(string label, CalibrationReport r) => string.Create(CultureInfo.InvariantCulture,
        $"{label}: Acc@1: {r.Accuracy:F4}, NLL: {r.Nll:F4}, ECE: {r.Ece:F4}, MCE: {r.Mce:F4}, adaptive ECE: {r.AdaptiveEce:F4}, class-wise ECE: {r.ClasswiseEce:F4}, Brier: {r.Brier:F4}");

    public static object Json(CalibrationReport r) => new
    {
        accuracy = r.Accuracy, nll = r.Nll, ece = r.Ece, mce = r.Mce, adaptive_ece = r.AdaptiveEce, classwise_ece = r.ClasswiseEce, brier = r.Brier,
    };

    public static string Temperature(double t) => t.ToString("F4", CultureInfo.InvariantCulture);

    /// <summary>The --ece_bins flag, shared by test and calibrate.</summary>
    public static System.CommandLine.Option<int> BinsFlag() =>
        Flags.Make("ece_bins", "Equal-width bins of ECE, MCE, class-wise ECE (equal-mass bins of adaptive ECE).", CalibrationMetrics.DefaultBins);

    /// <summary>The --no_temperature flag, shared by test and predict.</summary>
    public static System.CommandLine.Option<bool> NoTemperatureFlag() =>
        Flags.Make("no_temperature", "Ignore the temperature stored by `smile calibrate`: the network's own probabilities.", false);
}

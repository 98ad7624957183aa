using Smile.Evaluation;

namespace Smile.Plots;

/// <summary>
/// The pictures of an evaluation (`smile test --plots DIR`): the reliability diagram (before and, with a
/// temperature, after temperature scaling; the same bins as the ECE that `smile test` prints) and the
/// confusion matrix (rows: true class, columns: predicted).
/// </summary>
public static class EvaluationPlots
{
    public static IReadOnlyList<string> Write(string folder, EvalOutputs outputs, IReadOnlyList<string> classNames, int bins, double? temperature)
    {
        Directory.CreateDirectory(folder);
        var p = outputs.Probabilities();
        var before = Reliability(p, outputs.Labels, outputs.Classes, bins, "before temperature scaling");
        var after = temperature is { } t ? Reliability(outputs.Probabilities(t), outputs.Labels, outputs.Classes, bins, $"after (T = {t:G4})") : null;
        string reliability = Path.Combine(folder, "reliability.png");
        Charts.ReliabilityDiagram(reliability, before, after);
        string confusion = Path.Combine(folder, "confusion.png");
        Charts.ConfusionMatrix(confusion, Confusion(p, outputs.Labels, outputs.Classes), classNames);
        return [reliability, confusion];
    }

    /// <summary>Top-label confidence bins exactly as <see cref="CalibrationMetrics.Ece"/> forms them.</summary>
    public static ReliabilityBins Reliability(double[] p, int[] labels, int classes, int bins, string label)
    {
        var counts = new long[bins];
        var correct = new double[bins];
        var confidence = new double[bins];
        for (int i = 0; i < labels.Length; i++)
        {
            var (predicted, top) = Top(p, i, classes);
            int b = CalibrationMetrics.BinOf(top, bins);
            counts[b]++;
            confidence[b] += top;
            if (predicted == labels[i]) correct[b]++;
        }
        var accuracy = new double[bins];
        for (int b = 0; b < bins; b++)
            if (counts[b] > 0) { accuracy[b] = correct[b] / counts[b]; confidence[b] /= counts[b]; }
        return new ReliabilityBins(label, Enumerable.Range(0, bins).Select(b => (double)b / bins).ToArray(),
            Enumerable.Range(1, bins).Select(b => (double)b / bins).ToArray(), counts, accuracy, confidence);
    }

    public static long[,] Confusion(double[] p, int[] labels, int classes)
    {
        var counts = new long[classes, classes];
        for (int i = 0; i < labels.Length; i++) counts[labels[i], Top(p, i, classes).Class]++;
        return counts;
    }

    // Ties go to the lower class index, as CalibrationMetrics decides them.
    private static (int Class, double Probability) Top(double[] p, int row, int classes)
    {
        int best = 0;
        for (int k = 1; k < classes; k++) if (p[row * classes + k] > p[row * classes + best]) best = k;
        return (best, p[row * classes + best]);
    }
}

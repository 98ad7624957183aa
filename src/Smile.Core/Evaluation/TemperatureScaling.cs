namespace Smile.Evaluation;

/// <summary>
/// Temperature scaling (Guo et al. 2017): one scalar T &gt; 0, probabilities softmax(z / T). T is fitted on a
/// validation set's logits by minimising the NLL of the labels. Dividing every logit of a row by the same
/// positive T keeps its order, so the predicted class, and the accuracy, do not change.
/// </summary>
public static class TemperatureScaling
{
    public const double MinTemperature = 0.05;
    public const double MaxTemperature = 20;
    /// <summary>Width of the final bracket in ln T: T is known to about this relative precision.</summary>
    public const double Tolerance = 1e-4;

    /// <summary>
    /// Golden-section search on u = ln T over [ln 0.05, ln 20] until the bracket is narrower than
    /// <see cref="Tolerance"/>. The objective is the exact mean −ln softmax(z/T)_y (log-sum-exp, no clipping):
    /// it is convex in 1/T, hence unimodal in ln T, so the search finds the minimum in the range (or the bound
    /// nearest to it). Plain sequential double arithmetic: the same logits give the same T on every run.
    /// T = 1 is kept when it fits at least as well as the search's result, so the fit never makes the
    /// NLL on its own data worse.
    /// </summary>
    public static double Fit(EvalOutputs outputs)
    {
        if (outputs.Count == 0) throw new ArgumentException("no samples to fit a temperature on", nameof(outputs));
        double invPhi = (Math.Sqrt(5) - 1) / 2;
        double a = Math.Log(MinTemperature), b = Math.Log(MaxTemperature);
        double c = b - invPhi * (b - a), d = a + invPhi * (b - a);
        double fc = Nll(outputs, Math.Exp(c)), fd = Nll(outputs, Math.Exp(d));
        while (b - a > Tolerance)
        {
            if (fc <= fd)
            {
                (b, d, fd) = (d, c, fc);
                c = b - invPhi * (b - a);
                fc = Nll(outputs, Math.Exp(c));
            }
            else
            {
                (a, c, fc) = (c, d, fd);
                d = a + invPhi * (b - a);
                fd = Nll(outputs, Math.Exp(d));
            }
        }
        double t = Math.Exp((a + b) / 2);
        return Nll(outputs, 1.0) <= Nll(outputs, t) ? 1.0 : t;
    }

    /// <summary>Mean −ln softmax(z/T)_y, computed as logsumexp(z/T) − z_y/T (exact, unclipped).</summary>
    public static double Nll(EvalOutputs outputs, double temperature)
    {
        int k = outputs.Classes;
        double sum = 0;
        for (int i = 0; i < outputs.Count; i++)
        {
            var row = outputs.Logits.AsSpan(i * k, k);
            double max = double.NegativeInfinity;
            foreach (var z in row) max = Math.Max(max, z);
            double exp = 0;
            foreach (var z in row) exp += Math.Exp((z - max) / temperature);
            sum += Math.Log(exp) - (row[outputs.Labels[i]] - max) / temperature;
        }
        return sum / outputs.Count;
    }
}

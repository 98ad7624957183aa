namespace Smile.Evaluation;

/// <summary>
/// What an evaluation saw: the logits, N x K row-major as the network returned them (float32), the
/// labels and, when it read a folder, each row's image file, in the loader's order. Kept in memory (N x K floats) so that calibration can be measured and
/// fitted afterwards without a second forward pass.
/// </summary>
public sealed class EvalOutputs
{
    public float[] Logits { get; }
    public int[] Labels { get; }
    public int Classes { get; }
    /// <summary>The image file of each row; null when the outputs did not come from files.</summary>
    public IReadOnlyList<string>? Paths { get; }
    public int Count => Labels.Length;

    public EvalOutputs(float[] logits, int[] labels, int classes, IReadOnlyList<string>? paths = null)
    {
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), "at least one class");
        if (logits.Length != (long)labels.Length * classes)
            throw new ArgumentException($"{logits.Length} logits for {labels.Length} labels of {classes} classes", nameof(logits));
        foreach (var y in labels)
            if (y < 0 || y >= classes) throw new ArgumentOutOfRangeException(nameof(labels), $"label {y} is not in [0, {classes})");
        if (paths is not null && paths.Count != labels.Length)
            throw new ArgumentException($"{paths.Count} paths for {labels.Length} labels", nameof(paths));
        Logits = logits;
        Labels = labels;
        Classes = classes;
        Paths = paths;
    }

    /// <summary>softmax(z / <paramref name="temperature"/>) per row, in double precision (row maximum
    /// subtracted first, so no exp overflows); N x K row-major.</summary>
    public double[] Probabilities(double temperature = 1.0)
    {
        if (!(temperature > 0) || double.IsInfinity(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), "must be a positive finite number");
        int k = Classes;
        var p = new double[Logits.Length];
        for (int i = 0; i < Count; i++)
        {
            var row = Logits.AsSpan(i * k, k);
            var output = p.AsSpan(i * k, k);
            double max = double.NegativeInfinity;
            foreach (var z in row) max = Math.Max(max, z);
            double sum = 0;
            for (int j = 0; j < k; j++) sum += output[j] = Math.Exp((row[j] - max) / temperature);
            for (int j = 0; j < k; j++) output[j] /= sum;
        }
        return p;
    }
}

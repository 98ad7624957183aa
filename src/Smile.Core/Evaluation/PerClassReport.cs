using System.Globalization;

namespace Smile.Evaluation;

/// <summary>One class of a <see cref="PerClassReport"/>: its test images (<see cref="Count"/>), how many of them
/// were classified correctly, and how many images of any class were predicted as it.</summary>
public sealed record ClassFigures(int Class, string Name, int Count, int Correct, int Predicted)
{
    /// <summary>Correct / Count: the class's accuracy, which is its recall. Null when the folder has no image of the class.</summary>
    public double? Recall => Count == 0 ? null : (double)Correct / Count;

    /// <summary>Correct / Predicted. Null when no image was predicted as the class: 0/0 has no value, and neither 0
    /// nor 1 would be honest.</summary>
    public double? Precision => Predicted == 0 ? null : (double)Correct / Predicted;
}

/// <summary>One misclassified image: its row in the evaluation, its file when known, its true and predicted class,
/// the probability of the prediction and the probability given to the true class.</summary>
public sealed record Misclassification(int Index, string? Path, int True, int Predicted, double Confidence, double TrueConfidence);

/// <summary>All images of class <see cref="True"/> predicted as <see cref="Predicted"/>: how many, and the most
/// confident few of them (highest probability of the wrong class first).</summary>
public sealed record ConfusionPair(int True, int Predicted, int Count, IReadOnlyList<Misclassification> Examples);

/// <summary>
/// Per-class accuracy (recall), precision and counts, the confusions between classes and every misclassified image,
/// from probabilities p (N x K row-major, as <see cref="EvalOutputs.Probabilities"/> gives) and labels. The predicted
/// class is the first index of the row's maximum, as in <see cref="CalibrationMetrics"/>, so the correct counts add up
/// to its accuracy.
/// </summary>
public sealed class PerClassReport
{
    public const int DefaultExamples = 3;

    public IReadOnlyList<ClassFigures> Classes { get; }
    /// <summary>Every (true, predicted) pair with at least one image, most frequent first (ties: by true class, then predicted).</summary>
    public IReadOnlyList<ConfusionPair> Confusions { get; }
    /// <summary>Every misclassified image, in evaluation order.</summary>
    public IReadOnlyList<Misclassification> Errors { get; }
    public int Count { get; }

    private PerClassReport(IReadOnlyList<ClassFigures> classes, IReadOnlyList<ConfusionPair> confusions, IReadOnlyList<Misclassification> errors, int count)
    {
        Classes = classes;
        Confusions = confusions;
        Errors = errors;
        Count = count;
    }

    /// <param name="paths">The file of each row (for the examples and <see cref="Errors"/>), or null.</param>
    /// <param name="examples">How many example images each confusion keeps.</param>
    public static PerClassReport Compute(double[] p, int[] labels, IReadOnlyList<string> classNames, IReadOnlyList<string>? paths = null,
        int examples = DefaultExamples)
    {
        int k = classNames.Count;
        if (k < 1) throw new ArgumentException("at least one class", nameof(classNames));
        if (p.Length != (long)labels.Length * k) throw new ArgumentException($"{p.Length} probabilities for {labels.Length} labels of {k} classes", nameof(p));
        if (paths is not null && paths.Count != labels.Length) throw new ArgumentException($"{paths.Count} paths for {labels.Length} labels", nameof(paths));
        if (examples < 0) throw new ArgumentOutOfRangeException(nameof(examples), "0 or more");

        var count = new int[k];
        var correct = new int[k];
        var predicted = new int[k];
        var errors = new List<Misclassification>();
        for (int i = 0; i < labels.Length; i++)
        {
            int y = labels[i];
            if (y < 0 || y >= k) throw new ArgumentOutOfRangeException(nameof(labels), $"label {y} is not in [0, {k})");
            var row = p.AsSpan(i * k, k);
            int top = 0;
            for (int j = 1; j < k; j++) if (row[j] > row[top]) top = j;
            count[y]++;
            predicted[top]++;
            if (top == y) correct[y]++;
            else errors.Add(new Misclassification(i, paths?[i], y, top, row[top], row[y]));
        }

        var classes = Enumerable.Range(0, k).Select(c => new ClassFigures(c, classNames[c], count[c], correct[c], predicted[c])).ToArray();
        var confusions = errors.GroupBy(e => (e.True, e.Predicted))
            .Select(g => new ConfusionPair(g.Key.True, g.Key.Predicted, g.Count(),
                g.OrderByDescending(e => e.Confidence).ThenBy(e => e.Index).Take(examples).ToArray()))
            .OrderByDescending(c => c.Count).ThenBy(c => c.True).ThenBy(c => c.Predicted)
            .ToArray();
        return new PerClassReport(classes, confusions, errors, labels.Length);
    }

    /// <summary>The mean of the classes' accuracies, over the classes with at least one image (the balanced accuracy);
    /// null when there is no image.</summary>
    public double? MeanRecall => Classes.Any(c => c.Recall is not null) ? Classes.Where(c => c.Recall is not null).Average(c => c.Recall!.Value) : null;

    /// <summary>The classes from the lowest accuracy up (ties: more images first, then by class index); classes without
    /// an image, which have no accuracy, come last.</summary>
    public IReadOnlyList<ClassFigures> WorstFirst() =>
        Classes.OrderBy(c => c.Recall is null).ThenBy(c => c.Recall ?? 0).ThenByDescending(c => c.Count).ThenBy(c => c.Class).ToArray();

    public static readonly IReadOnlyList<string> ErrorsHeader = ["path", "true_class", "predicted_class", "confidence", "true_class_confidence"];

    /// <summary>Every misclassified image as a CSV (<see cref="ErrorsHeader"/>; probabilities with 6 significant
    /// digits), written atomically.</summary>
    public void WriteErrorsCsv(string path)
    {
        string Number(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
        Smile.Data.Csv.Write(path, ErrorsHeader, Errors.Select(e => (IReadOnlyList<string>)
            [e.Path ?? e.Index.ToString(CultureInfo.InvariantCulture), Classes[e.True].Name, Classes[e.Predicted].Name, Number(e.Confidence), Number(e.TrueConfidence)]));
    }
}

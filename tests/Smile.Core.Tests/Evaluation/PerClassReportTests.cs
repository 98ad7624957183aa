using Smile.Data;
using Smile.Evaluation;

namespace Smile.Tests.Evaluation;

/// <summary>The per-class figures, confusions and errors CSV on a case small enough to count by hand.</summary>
public sealed class PerClassReportTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("smile-perclass-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    // Four classes, eight images. Label, probabilities, prediction (first index of the row's maximum):
    //   0  a (.7 .2 .1 0)  -> a  right
    //   1  a (.2 .5 .3 0)  -> b  wrong, confidence .5, true .2
    //   2  a (.1 .8 .1 0)  -> b  wrong, confidence .8, true .1
    //   3  a (.4 .4 .2 0)  -> a  right (a tie goes to the lower class)
    //   4  b (.1 .6 .3 0)  -> b  right
    //   5  b (.6 .3 .1 0)  -> a  wrong, confidence .6, true .3
    //   6  c (.3 .6 .1 0)  -> b  wrong, confidence .6, true .1
    //   7  b (.1 .9 0 0)   -> b  right
    // a: 4 images, 2 right, predicted 3 times (rows 0, 3, 5); b: 3 images, 2 right, predicted 5 times; c: 1 image,
    // none right, never predicted; d: no image, never predicted.
    private static readonly string[] Names = ["a", "b", "c", "d"];
    private static readonly double[] P =
    [
        .7, .2, .1, 0, .2, .5, .3, 0, .1, .8, .1, 0, .4, .4, .2, 0,
        .1, .6, .3, 0, .6, .3, .1, 0, .3, .6, .1, 0, .1, .9, 0, 0,
    ];
    private static readonly int[] Y = [0, 0, 0, 0, 1, 1, 2, 1];
    private static readonly string[] Paths = Enumerable.Range(0, 8).Select(i => $"/data/{Names[Y[i]]}/{i},x.png").ToArray();

    [Fact]
    public void CountsRecallAndPrecisionPerClass()
    {
        var report = PerClassReport.Compute(P, Y, Names, Paths);
        Assert.Equal(8, report.Count);
        Assert.Equal([4, 3, 1, 0], report.Classes.Select(c => c.Count));
        Assert.Equal([2, 2, 0, 0], report.Classes.Select(c => c.Correct));
        Assert.Equal([3, 5, 0, 0], report.Classes.Select(c => c.Predicted));
        Assert.Equal(Names, report.Classes.Select(c => c.Name));
        Assert.Equal(0.5, report.Classes[0].Recall!.Value, 12);
        Assert.Equal(2.0 / 3, report.Classes[1].Recall!.Value, 12);
        Assert.Equal(0.0, report.Classes[2].Recall!.Value, 12);
        Assert.Null(report.Classes[3].Recall); // no image of d: no accuracy
        Assert.Equal(2.0 / 3, report.Classes[0].Precision!.Value, 12);
        Assert.Equal(2.0 / 5, report.Classes[1].Precision!.Value, 12);
        Assert.Null(report.Classes[2].Precision); // c has an image but was never predicted: 0/0, not NaN, not 0
        Assert.Null(report.Classes[3].Precision);
        Assert.Equal((0.5 + 2.0 / 3 + 0) / 3, report.MeanRecall!.Value, 12); // d, without images, is not averaged in
        // The right counts add up to the accuracy CalibrationMetrics reports (same prediction rule).
        Assert.Equal(CalibrationMetrics.Accuracy(P, Y, 4), report.Classes.Sum(c => c.Correct) / (double)report.Count, 12);
    }

    [Fact]
    public void WorstFirstPutsClassesWithoutImagesLast() =>
        Assert.Equal(["c", "a", "b", "d"], PerClassReport.Compute(P, Y, Names).WorstFirst().Select(c => c.Name));

    [Fact]
    public void ConfusionsAreMostFrequentFirstWithTheMostConfidentExamples()
    {
        var report = PerClassReport.Compute(P, Y, Names, Paths);
        Assert.Equal([(0, 1, 2), (1, 0, 1), (2, 1, 1)], report.Confusions.Select(c => (c.True, c.Predicted, c.Count)));
        Assert.Equal([2, 1], report.Confusions[0].Examples.Select(e => e.Index)); // confidence .8 before .5
        Assert.Equal(Paths[2], report.Confusions[0].Examples[0].Path);
        Assert.Equal([2], PerClassReport.Compute(P, Y, Names, Paths, examples: 1).Confusions[0].Examples.Select(e => e.Index));

        Assert.Equal([1, 2, 5, 6], report.Errors.Select(e => e.Index));
        var e5 = report.Errors[2];
        Assert.Equal((1, 0, 0.6, 0.3, Paths[5]), (e5.True, e5.Predicted, e5.Confidence, e5.TrueConfidence, e5.Path));
    }

    [Fact]
    public void TheErrorsCsvListsEveryMisclassifiedImage()
    {
        var csv = Path.Combine(root, "errors.csv");
        PerClassReport.Compute(P, Y, Names, Paths).WriteErrorsCsv(csv);
        var records = Csv.Records(csv, File.ReadAllText(csv)).Select(r => r.Fields).ToArray();
        Assert.Equal(PerClassReport.ErrorsHeader, records[0]);
        Assert.Equal(
        [
            [Paths[1], "a", "b", "0.5", "0.2"],
            [Paths[2], "a", "b", "0.8", "0.1"],
            [Paths[5], "b", "a", "0.6", "0.3"],
            [Paths[6], "c", "b", "0.6", "0.1"],
        ], records.Skip(1).Select(r => r.ToArray()));
        Assert.Empty(Directory.GetFiles(root, "*.tmp-*"));
    }

    [Fact]
    public void MismatchedInputsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => PerClassReport.Compute(P, Y, ["a", "b", "c"]));
        Assert.Throws<ArgumentException>(() => PerClassReport.Compute(P, Y, Names, Paths[..7]));
        Assert.Throws<ArgumentOutOfRangeException>(() => PerClassReport.Compute(P, [0, 0, 0, 0, 1, 1, 2, 4], Names));
    }
}

using System.Text.Json;
using Smile.Evaluation;
using Smile.Training;

namespace Smile.Tests.Training;

public sealed class RunReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smile-report-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Summary(string name, string regularizer, double best, double last)
    {
        var s = new TrainingSummary(name, regularizer, "resnet18", 10, 0, best, 9, new EvalResult(100, 0.5, last, 1, 0.1, 1), 12, 50, 0, null, "x", false);
        File.WriteAllText(Path.Combine(_dir, $"{name}_{regularizer}_summary.json"), JsonSerializer.Serialize(s));
    }

    [Fact]
    public void GroupsRunsThatDifferOnlyInTheSeedSuffix()
    {
        Summary("t20_s1", "l2", 0.80, 0.70);
        Summary("t20_s2", "l2", 0.90, 0.80);
        Summary("t20_s3", "l2", 0.85, 0.90);
        Summary("t20_s1", "smile", 0.5, 0.5);
        Summary("t5_s1", "l2", 0.6, 0.6);
        var rows = RunReport.Read(_dir);
        Assert.Equal(5, rows.Count);
        var groups = RunReport.GroupOverSeeds(rows);
        Assert.Equal([("t20", "l2", 3), ("t20", "smile", 1), ("t5", "l2", 1)], groups.Select(g => (g.Name, g.Regularizer, g.Runs)));
        var l2 = groups[0];
        Assert.Equal(0.80, l2.MeanLastTop1, 12);
        Assert.Equal(0.10, l2.StdLastTop1, 12); // sample std of 0.7, 0.8, 0.9
        Assert.Equal(0.85, l2.MeanBestTop1, 12);
        Assert.Equal(0.05, l2.StdBestTop1, 12);
        Assert.Equal(0, groups[1].StdLastTop1);
    }

    [Fact]
    public void ASimNetRunsSummaryInTheSameFolderIsNotARow()
    {
        Summary("t20_s1", "l2", 0.80, 0.70);
        var simnet = new Smile.WeakShot.SimNetSummary("simnet", "resnet18", 3, 0, 0.5, 2, null, 0.1, 5, 10, 0, "b", "l", false);
        File.WriteAllText(Path.Combine(_dir, "simnet_summary.json"), JsonSerializer.Serialize(simnet));
        Assert.Equal(["t20_s1"], RunReport.Read(_dir).Select(r => r.Name));
    }

    [Fact]
    public void AFileThatIsNotASummaryIsNamed()
    {
        File.WriteAllText(Path.Combine(_dir, "broken_summary.json"), "{ not json");
        var error = Assert.Throws<Smile.Data.DataException>(() => RunReport.Read(_dir));
        Assert.Contains("broken_summary.json", error.Message);
    }
}

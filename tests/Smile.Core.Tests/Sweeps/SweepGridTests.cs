using Smile.Sweeps;

namespace Smile.Tests.Sweeps;

/// <summary>A grid file expanded into runs: the product of the axes, exclusions, names, and one clear line per mistake.</summary>
public sealed class SweepGridTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("smile-grid-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private string Write(string json, string name = "paper.json")
    {
        var path = Path.Combine(folder, name);
        File.WriteAllText(path, json);
        return path;
    }

    private string Refused(string json)
    {
        var file = Write(json);
        var e = Assert.Throws<UsageException>(() => SweepGrid.Load(file));
        Assert.StartsWith(file, e.Message);
        return e.Message;
    }

    [Fact]
    public void AxesExpandInFileOrderWithNamedValuesAndExclusions()
    {
        var file = Write("""
            { "base": { "max_iters": 100, "lr": 0.01 },
              "axes": { "data": { "cub": { "train_dir": "cub/train", "lr": 0.02 }, "cars": { "train_dir": "cars/train" } },
                        "regularizer": ["l2", "smile"], "seed": [1, 2] },
              "exclude": [ { "data": "cars", "regularizer": "smile" } ] }
            """);
        var grid = SweepGrid.Load(file);
        Assert.Equal(["data", "regularizer", "seed"], grid.Axes);
        Assert.Equal(Path.Combine(folder, "paper"), grid.Output); // default: beside the grid, named after it
        Assert.Equal([
            "data-cub_regularizer-l2_seed-1", "data-cub_regularizer-l2_seed-2", "data-cub_regularizer-smile_seed-1", "data-cub_regularizer-smile_seed-2",
            "data-cars_regularizer-l2_seed-1", "data-cars_regularizer-l2_seed-2",
        ], grid.Runs.Select(r => r.Name));
        var run = grid.Runs[2];
        Assert.Equal("smile", run.ValueOf("regularizer"));
        Assert.Equal("1", run.ValueOf("seed"));
        var settings = run.Settings.ToDictionary(s => s.Key, s => s.Value.GetRawText());
        // Base, then each axis; a named value overrides the base (lr), and every setting is there once.
        Assert.Equal(new Dictionary<string, string> { ["max_iters"] = "100", ["lr"] = "0.02", ["train_dir"] = "\"cub/train\"", ["regularizer"] = "\"smile\"", ["seed"] = "1" }, settings);
        Assert.Equal("0.01", grid.Runs[4].Settings.Single(s => s.Key == "lr").Value.GetRawText());
        Assert.Throws<UsageException>(() => run.ValueOf("lr"));
    }

    [Fact]
    public void OutputIsRelativeToTheGridFile()
    {
        var grid = SweepGrid.Load(Write("""{ "output": "runs/out", "axes": { "seed": [1] } }"""));
        Assert.Equal(Path.Combine(folder, "runs", "out"), grid.Output);
        Assert.Equal("seed-1", Assert.Single(grid.Runs).Name);
    }

    [Fact]
    public void MistakesNameTheFileAndTheKey()
    {
        Assert.Contains("unknown key 'axis'", Refused("""{ "axis": { "seed": [1] } }"""));
        Assert.Contains("key 'axes' is missing", Refused("""{ "base": {} }"""));
        Assert.Contains("axis 'seed' is empty", Refused("""{ "axes": { "seed": [] } }"""));
        Assert.Contains("axis 'data' is empty", Refused("""{ "axes": { "data": {} } }"""));
        Assert.Contains("axis 'seed' has the value '1' twice", Refused("""{ "axes": { "seed": [1, 1] } }"""));
        Assert.Contains("get the same name 'tag-a-b'", Refused("""{ "axes": { "tag": ["a b", "a/b"] } }"""));
        Assert.Contains("'exclude' names 'method', which is not an axis", Refused("""{ "axes": { "seed": [1] }, "exclude": [ { "method": "l2" } ] }"""));
        Assert.Contains("gives axis 'seed' the value '3', which it does not have", Refused("""{ "axes": { "seed": [1, 2] }, "exclude": [ { "seed": 3 } ] }"""));
        Assert.Contains("'exclude' leaves no run", Refused("""{ "axes": { "seed": [1] }, "exclude": [ { "seed": 1 } ] }"""));
        Assert.Contains("axis 'lr' must be a list", Refused("""{ "axes": { "lr": 0.1 } }"""));
        Assert.Contains("key 'seed' appears twice", Refused("""{ "base": { "seed": 1, "seed": 2 }, "axes": { "lr": [0.1] } }"""));
        Assert.Contains("is not valid JSON", Refused("""{ "axes": """));
    }
}

using System.Text.Json;

namespace Smile.Tests.Weights;

/// <summary>Runs make_pth_fixture.py once: .pth files written by real PyTorch and their exact values.</summary>
public sealed class PthFixture : IDisposable
{
    public sealed record Expected(string DType, long[] Shape, JsonElement[] Values);

    public string Dir { get; } = Directory.CreateTempSubdirectory("smile-pth-").FullName;

    /// <summary>The file evil.pth would create if anything in it were executed.</summary>
    public string Marker => Path.Combine(Dir, "executed-marker");

    public IReadOnlyDictionary<string, Expected> Values { get; }

    /// <summary>The state dict's names in the order torch.save wrote them.</summary>
    public IReadOnlyList<string> Names { get; }

    public PthFixture()
    {
        PythonRunner.Run("make_pth_fixture.py", Dir, Marker);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "expected.json")));
        Values = json.RootElement.EnumerateObject().ToDictionary(
            p => p.Name,
            p => new Expected(
                p.Value.GetProperty("dtype").GetString()!,
                p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray(),
                p.Value.GetProperty("values").EnumerateArray().Select(e => e.Clone()).ToArray()));
        Names = json.RootElement.EnumerateObject().Select(p => p.Name).ToList();
    }

    public string PathOf(string file) => Path.Combine(Dir, file);

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

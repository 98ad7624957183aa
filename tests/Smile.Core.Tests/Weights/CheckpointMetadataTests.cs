using Smile.Models;
using Smile.WeakShot;
using Smile.Weights;
using static TorchSharp.torch;

namespace Smile.Tests.Weights;

/// <summary>Damaged checkpoint metadata is a file error naming the file (exit 2 in the CLI), never an argument
/// error from deep inside the model or the transform.</summary>
public sealed class CheckpointMetadataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smile-meta-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly CheckpointInfo Info = new(ShallowCnn.Name, new[] { "ant", "bee", "cat" }, null, 32,
        new[] { 0.485f, 0.456f, 0.406f }, new[] { 0.229f, 0.224f, 0.225f }, 3, 0.5, "l2", new Dictionary<string, string>());

    private string SaveCheckpoint(string name)
    {
        var path = Path.Combine(_dir, name);
        manual_seed(1);
        using var model = ModelFactory.Create(Info.Architecture, Info.Classes.Count, null);
        Checkpoint.Save(path, model, Info);
        return path;
    }

    [Theory]
    [InlineData("image_size", "0", "image_size 0 is not between 1 and 4096")]
    [InlineData("image_size", "100000", "image_size 100000 is not between 1 and 4096")]
    [InlineData("image_size", "99999999999", "image_size '99999999999' is not a whole number of int range")]
    [InlineData("normalization", "{\"mean\": [0.5, 0.5, 0.5], \"std\": [0.2, 0, 0.2]}", "normalization std[1] is 0, not a positive finite number")]
    [InlineData("normalization", "{\"mean\": [0.5, 0.5, 0.5], \"std\": [0.2, -1, 0.2]}", "normalization std[1] is -1, not a positive finite number")]
    [InlineData("normalization", "{\"mean\": [0.5, 0.5, 0.5], \"std\": [1e39, 0.2, 0.2]}", "normalization std[0]")]
    [InlineData("normalization", "{\"mean\": [0.5, 0.5], \"std\": [0.2, 0.2]}", "normalization has 2 means and 2 standard deviations, not 3 of each")]
    [InlineData("normalization", "{\"mean\": [0.5, 0.5, \"x\"], \"std\": [0.2, 0.2, 0.2]}", "normalization mean holds \"x\", not a number")]
    [InlineData("classes", "[\"ant\", \"bee\", \"ant\"]", "classes names 'ant' twice")]
    [InlineData("classes", "[]", "classes is empty")]
    [InlineData("classes", "[\"ant\", null, \"cat\"]", "classes holds an empty name")]
    [InlineData("aux_classes", "0", "aux_classes is 0, not a positive number")]
    public void DamagedMetadataIsAWeightFileErrorNamingTheFile(string key, string value, string reason)
    {
        var path = SaveCheckpoint("c.safetensors");
        SafetensorsFile.UpdateMetadata(path, new Dictionary<string, string> { [key] = value });
        var error = Assert.Throws<WeightFileException>(() => Checkpoint.ReadInfo(path));
        Assert.StartsWith($"{path}: damaged Smile checkpoint metadata (", error.Message);
        Assert.Contains(reason, error.Message);
        Assert.DoesNotContain('\n', error.Message);
        using var scope = NewDisposeScope();
        Assert.Throws<WeightFileException>(() => Smile.Evaluation.TrainedModel.Load(path, CPU));
    }

    [Theory]
    [InlineData("base_classes", "[\"a\", \"a\"]", "base_classes names 'a' twice")]
    [InlineData("image_size", "-3", "image_size -3 is not between 1 and 4096")]
    [InlineData("normalization", "{\"mean\": [0, 0, 0], \"std\": [1, 1, 0]}", "normalization std[2] is 0")]
    [InlineData("relation_dim", "0", "relation_dim is 0, not a positive number")]
    public void DamagedSimNetMetadataIsAWeightFileError(string key, string value, string reason)
    {
        var path = Path.Combine(_dir, "s.safetensors");
        var metadata = new Dictionary<string, string>
        {
            ["smile_format"] = SimNetInfo.FormatName, ["architecture"] = "resnet18", ["base_classes"] = "[\"a\", \"b\"]",
            ["relation_dim"] = "8", ["image_size"] = "32", ["normalization"] = "{\"mean\": [0, 0, 0], \"std\": [1, 1, 1]}",
            ["epoch"] = "1", ["best_f1"] = "0.5", ["arguments"] = "{}",
        };
        SafetensorsFile.Write(path, new Dictionary<string, Tensor>(), metadata);
        Assert.Equal(32, SimNetCheckpoint.ReadInfo(path).ImageSize); // the undamaged file reads
        metadata[key] = value;
        SafetensorsFile.Write(path, new Dictionary<string, Tensor>(), metadata);
        var error = Assert.Throws<WeightFileException>(() => SimNetCheckpoint.ReadInfo(path));
        Assert.StartsWith($"{path}: damaged SimNet metadata (", error.Message);
        Assert.Contains(reason, error.Message);
    }
}

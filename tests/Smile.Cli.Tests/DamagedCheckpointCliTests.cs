using Smile.Models;
using Smile.Weights;
using static TorchSharp.torch;

namespace Smile.Tests.Cli;

/// <summary>A checkpoint with damaged metadata is one line naming the file, exit 2, in every verb that reads one.</summary>
public sealed class DamagedCheckpointCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smile-meta-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string SaveCheckpoint(string name)
    {
        var info = new CheckpointInfo(ShallowCnn.Name, new[] { "ant", "bee", "cat" }, null, 32,
            new[] { 0.485f, 0.456f, 0.406f }, new[] { 0.229f, 0.224f, 0.225f }, 3, 0.5, "l2", new Dictionary<string, string>());
        var path = Path.Combine(_dir, name);
        manual_seed(1);
        using var model = ModelFactory.Create(info.Architecture, info.Classes.Count, null);
        Checkpoint.Save(path, model, info);
        return path;
    }

    [Fact]
    public void TestAndPredictReportADamagedCheckpointAsOneLineWithExitCode2()
    {
        var path = SaveCheckpoint("cli.safetensors");
        SafetensorsFile.UpdateMetadata(path, new Dictionary<string, string> { ["normalization"] = "{\"mean\": [0.5, 0.5, 0.5], \"std\": [0, 0.2, 0.2]}" });
        var images = Path.Combine(_dir, "images");
        TinyFolders.Write(images, ["ant", "bee", "cat"], 1, 0);
        foreach (var args in new[]
        {
            new[] { "test", "--ckpts", path, "--test_dir", images },
            new[] { "predict", "--ckpts", path, "--input", images },
            new[] { "calibrate", "--ckpts", path, "--val_dir", images },
        })
        {
            var r = SmileProcess.Run(args);
            Assert.True(r.ExitCode == 2, $"{args[0]}: {r.Describe()} {r.Stderr}");
            Assert.Equal($"error: {path}: damaged Smile checkpoint metadata (normalization std[0] is 0, not a positive finite number)", r.Stderr.Trim());
        }
    }
}

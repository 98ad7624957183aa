using System.Buffers.Binary;
using Smile.Models;
using Smile.Weights;
using static TorchSharp.torch;

namespace Smile.Tests.Weights;

/// <summary>The temperature in a checkpoint's metadata: written in place by WriteTemperature, read back by ReadInfo.</summary>
public sealed class CheckpointTemperatureTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smile-temp-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly CheckpointInfo Info = new("resnet18", new[] { "ant", "bee", "cat" }, null, 32,
        new[] { 0.485f, 0.456f, 0.406f }, new[] { 0.229f, 0.224f, 0.225f }, 3, 0.5, "l2", new Dictionary<string, string> { ["lr"] = "0.01" });

    /// <summary>A checkpoint with a student, momentum buffers and a teacher, as training writes it.</summary>
    private string SaveCheckpoint(string name, CheckpointInfo info)
    {
        var path = Path.Combine(_dir, name);
        manual_seed(3);
        using var student = ModelFactory.Create("resnet18", 3, null);
        using var teacher = ModelFactory.Create("resnet18", 3, null);
        using var scope = NewDisposeScope();
        var momentum = new Dictionary<string, Tensor> { ["fc.weight"] = randn(3, 512), ["fc.bias"] = randn(3) };
        Checkpoint.Save(path, student, info, momentum, teacher);
        return path;
    }

    /// <summary>Everything after the header: the tensors' bytes.</summary>
    private static byte[] DataSection(string path)
    {
        var bytes = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        return bytes[(int)(8 + headerLength)..];
    }

    [Fact]
    public void WriteTemperatureKeepsEveryTensorByteAndMetadataEntry()
    {
        var path = SaveCheckpoint("c.safetensors", Info);
        var dataBefore = DataSection(path);
        var metadataBefore = SafetensorsFile.ReadMetadata(path);
        Assert.Null(Checkpoint.ReadInfo(path).Temperature);

        Checkpoint.WriteTemperature(path, 1.75);
        Assert.Equal(1.75, Checkpoint.ReadInfo(path).Temperature);
        Assert.Equal(dataBefore, DataSection(path));
        var metadataAfter = SafetensorsFile.ReadMetadata(path);
        Assert.Equal(metadataBefore.Append(KeyValuePair.Create("temperature", "1.75")).OrderBy(p => p.Key), metadataAfter.OrderBy(p => p.Key));
        Assert.Equal(new[] { "c.safetensors" }, Directory.GetFiles(_dir).Select(Path.GetFileName)); // no temporary file left

        // Still a loadable checkpoint: every tensor read back, the student loads strictly.
        CheckpointInfo info;
        using (var scope = NewDisposeScope()) // takes the loaded tensors
        {
            (info, var tensors) = Checkpoint.Load(path);
            using var model = ModelFactory.Create(info.Architecture, info.Classes.Count, info.AuxClasses);
            StateDictLoader.Load(model, Checkpoint.StudentTensors(tensors), path);
            Assert.Equal(2, Checkpoint.WithPrefix(tensors, Checkpoint.OptimizerPrefix).Count);
            Assert.NotEmpty(Checkpoint.WithPrefix(tensors, Checkpoint.TeacherPrefix));
        }
        Assert.Equal(Info.Classes, info.Classes);
        Assert.Equal(Info.Arguments, info.Arguments);

        // A second calibration replaces the value; nothing else moves.
        Checkpoint.WriteTemperature(path, 0.8125);
        Assert.Equal(0.8125, Checkpoint.ReadInfo(path).Temperature);
        Assert.Equal(dataBefore, DataSection(path));
    }

    [Fact]
    public void SaveNeverCarriesATemperatureOverToNewWeights()
    {
        var path = SaveCheckpoint("s.safetensors", Info with { Temperature = 2.0 });
        Assert.Null(Checkpoint.ReadInfo(path).Temperature);
        Assert.False(SafetensorsFile.ReadMetadata(path).ContainsKey(Checkpoint.TemperatureKey));
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("0")]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("warm")]
    public void ADamagedTemperatureIsAOneLineError(string value)
    {
        var path = SaveCheckpoint("d.safetensors", Info);
        SafetensorsFile.UpdateMetadata(path, new Dictionary<string, string> { [Checkpoint.TemperatureKey] = value });
        var e = Assert.Throws<WeightFileException>(() => Checkpoint.ReadInfo(path));
        Assert.Contains("damaged Smile checkpoint metadata", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void PlainWeightsGetNoTemperature()
    {
        var path = Path.Combine(_dir, "plain.safetensors");
        using (var scope = NewDisposeScope())
            SafetensorsFile.Write(path, new Dictionary<string, Tensor> { ["w"] = ones(2) }, new Dictionary<string, string> { ["format"] = "pt" });
        var before = File.ReadAllBytes(path);
        var e = Assert.Throws<WeightFileException>(() => Checkpoint.WriteTemperature(path, 1.5));
        Assert.Contains("not a Smile checkpoint", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Throws<ArgumentOutOfRangeException>(() => Checkpoint.WriteTemperature(path, 0));
    }
}

using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Weights;

public sealed class WeightFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smile-wf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void DispatchesByContentNotByExtension()
    {
        using var scope = NewDisposeScope();
        var safetensors = Path.Combine(_dir, "really-safetensors.pth");
        using Scalar value = 1.5f;
        SafetensorsFile.Write(safetensors, new Dictionary<string, Tensor> { ["x"] = full(3, value) });
        Assert.Equal(new float[] { 1.5f, 1.5f, 1.5f }, WeightFile.Read(safetensors)["x"].data<float>().ToArray());

        var pth = Path.Combine(_dir, "really-pth.safetensors");
        CraftedPth.WriteZip(pth,
            ("whatever/data.pkl", CraftedPth.SingleTensorPickle("y", 2, 0, [2], [1])),
            ("whatever/data/0", CraftedPth.Floats(4, 5)));
        Assert.Equal(new float[] { 4, 5 }, WeightFile.Read(pth)["y"].data<float>().ToArray());
    }

    [Fact]
    public void AMissingFileIsNamed()
    {
        var path = Path.Combine(_dir, "missing.pth");
        var error = Assert.Throws<WeightFileException>(() => WeightFile.Read(path));
        Assert.Equal($"{path}: file not found", error.Message);
        Assert.Equal($"{path}: file not found", Assert.Throws<WeightFileException>(() => PthReader.Read(path)).Message);
    }

    [Fact]
    public void NamesTheLegacyTorchSaveFormat()
    {
        var path = Path.Combine(_dir, "legacy.pth");
        // What torch.save(..., _use_new_zipfile_serialization=False) starts with: PROTO 2, LONG1 magic number.
        File.WriteAllBytes(path, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
        var error = Assert.Throws<WeightFileException>(() => WeightFile.Read(path));
        Assert.Contains("legacy (non-zip) torch.save format", error.Message);
    }

    [Fact]
    public void GarbageIsAWeightFileError()
    {
        var path = Path.Combine(_dir, "garbage.bin");
        var bytes = new byte[1000];
        new Random(3).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<WeightFileException>(() => WeightFile.Read(path));
        Assert.StartsWith($"{path}: ", error.Message);
    }
}

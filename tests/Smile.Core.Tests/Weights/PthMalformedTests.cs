using System.Text;
using Smile.Weights;
using static TorchSharp.torch;

namespace Smile.Tests.Weights;

/// <summary>Malformed and hostile .pth files: each must end in a one-line WeightFileException naming the
/// file, never in an index error or a native crash.</summary>
public sealed class PthMalformedTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smile-pth-bad-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TheCraftedPickleReadsWhenWellFormed()
    {
        // Guards the other tests of this class: their files differ from this one in one respect each.
        using var scope = NewDisposeScope();
        var path = Pth(CraftedPth.SingleTensorPickle("w", 6, 1, [2, 2], [1, 2]), CraftedPth.Floats(0, 1, 2, 3, 4, 5));
        var w = PthReader.Read(path)["w"];
        Assert.Equal(new long[] { 2, 2 }, w.shape);
        Assert.Equal(new float[] { 1, 3, 2, 4 }, w.data<float>().ToArray());
    }

    [Fact]
    public void RefusesAForbiddenGlobalOfAProtocol0Pickle()
    {
        var path = Pth(Encoding.ASCII.GetBytes("cos\nsystem\n(S'echo hi'\ntR."));
        var error = Assert.Throws<WeightFileException>(() => PthReader.Read(path));
        Assert.Equal($"{path}: refuses pickle global 'os.system' (only PyTorch state dicts are read; nothing is executed)", error.Message);
    }

    [Fact]
    public void RefusesAForbiddenStackGlobal()
    {
        // protocol 4: SHORT_BINUNICODE 'builtins', SHORT_BINUNICODE 'eval', STACK_GLOBAL
        var pickle = new List<byte> { 0x80, 4, 0x8c, 8 };
        pickle.AddRange("builtins"u8.ToArray());
        pickle.AddRange(new byte[] { 0x8c, 4 });
        pickle.AddRange("eval"u8.ToArray());
        pickle.AddRange(new byte[] { 0x93, (byte)'.' });
        var error = Assert.Throws<WeightFileException>(() => PthReader.Read(Pth(pickle.ToArray())));
        Assert.Contains("refuses pickle global 'builtins.eval'", error.Message);
    }

    [Fact]
    public void NamesAnUnknownOpcodeAndItsPosition()
    {
        var path = Pth([0x80, 2, (byte)'}', 0xff]);
        var error = Assert.Throws<WeightFileException>(() => PthReader.Read(path));
        Assert.StartsWith($"{path}: unsupported pickle opcode 0xff at byte 3", error.Message);
    }

    [Fact]
    public void ATruncatedPickleIsAnError()
    {
        var pickle = CraftedPth.SingleTensorPickle("w", 4, 0, [4], [1]);
        var path = Pth(pickle[..(pickle.Length - 5)], CraftedPth.Floats(1, 2, 3, 4));
        var error = Assert.Throws<WeightFileException>(() => PthReader.Read(path));
        Assert.StartsWith($"{path}: ", error.Message);
    }

    [Fact]
    public void AStorageShorterThanItsElementCountIsAnError()
    {
        var path = Pth(CraftedPth.SingleTensorPickle("w", 1000, 0, [1000], [1]), CraftedPth.Floats(1, 2, 3));
        var error = Assert.Throws<WeightFileException>(() => PthReader.Read(path));
        Assert.Equal($"{path}: storage '0' has 12 bytes, fewer than its 1000 elements need (4000); the file is damaged", error.Message);
    }

    [Fact]
    public void AViewPastTheEndOfItsStorageIsAnError()
    {
        var path = Pth(CraftedPth.SingleTensorPickle("w", 4, 2, [2, 2], [2, 1]), CraftedPth.Floats(1, 2, 3, 4));
        var error = Assert.Throws<WeightFileException>(() => PthReader.Read(path));
        Assert.Contains("past the storage's 4 elements", error.Message);
    }

    [Fact]
    public void AHugeSizeIsAnErrorNotAnAllocation()
    {
        var path = Pth(CraftedPth.SingleTensorPickle("w", long.MaxValue / 2, 0, [long.MaxValue / 2], [1]), CraftedPth.Floats(1));
        var error = Assert.Throws<WeightFileException>(() => PthReader.Read(path));
        Assert.StartsWith($"{path}: ", error.Message);
    }

    [Fact]
    public void AMissingStorageEntryIsAnError()
    {
        var path = Path.Combine(_dir, "nostorage.pth");
        CraftedPth.WriteZip(path, ("archive/data.pkl", CraftedPth.SingleTensorPickle("w", 1, 0, [], [])));
        var error = Assert.Throws<WeightFileException>(() => PthReader.Read(path));
        Assert.Contains("storage '0' is missing from the archive", error.Message);
    }

    [Fact]
    public void AnUnsupportedStorageTypeIsNamed()
    {
        var path = Pth(CraftedPth.SingleTensorPickle("w", 1, 0, [], [], storageType: "ComplexFloatStorage"), new byte[8]);
        var error = Assert.Throws<WeightFileException>(() => PthReader.Read(path));
        Assert.Contains("unsupported tensor storage type 'torch.ComplexFloatStorage'", error.Message);
    }

    [Fact]
    public void RefusesBigEndianFiles()
    {
        var path = Path.Combine(_dir, "big.pth");
        CraftedPth.WriteZip(path,
            ("archive/data.pkl", CraftedPth.SingleTensorPickle("w", 1, 0, [], [])),
            ("archive/byteorder", "big"u8.ToArray()),
            ("archive/data/0", new byte[4]));
        var error = Assert.Throws<WeightFileException>(() => PthReader.Read(path));
        Assert.Contains("big-endian", error.Message);
    }

    [Fact]
    public void AZipWithoutDataPklIsAnError()
    {
        var path = Path.Combine(_dir, "other.zip");
        CraftedPth.WriteZip(path, ("folder/readme.txt", "hello"u8.ToArray()));
        var error = Assert.Throws<WeightFileException>(() => WeightFile.Read(path));
        Assert.Equal($"{path}: the zip archive has no '<folder>/data.pkl', so it is not a PyTorch file written by torch.save", error.Message);
    }

    [Fact]
    public void AResultThatIsNotAStateDictIsAnError()
    {
        var path = Pth([0x80, 2, (byte)']', (byte)'.']); // an empty list
        var error = Assert.Throws<WeightFileException>(() => PthReader.Read(path));
        Assert.Contains("holds no state dict", error.Message);
    }

    [Fact]
    public void GarbageIsAWeightFileError()
    {
        var path = Path.Combine(_dir, "garbage.pth");
        var bytes = new byte[4096];
        new Random(7).NextBytes(bytes);
        "PK\x03\x04"u8.CopyTo(bytes); // looks like a zip to the dispatcher, is not one
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<WeightFileException>(() => WeightFile.Read(path));
        Assert.StartsWith($"{path}: ", error.Message);
        Assert.Throws<WeightFileException>(() => PthReader.Read(path));
    }

    /// <summary>A torch.save-like archive: archive/data.pkl, and the storage archive/data/0 when given.</summary>
    private string Pth(byte[] pickle, byte[]? storage = null)
    {
        var path = Path.Combine(_dir, $"crafted-{Guid.NewGuid():N}.pth");
        var entries = new List<(string, byte[])> { ("archive/data.pkl", pickle), ("archive/version", "3\n"u8.ToArray()) };
        if (storage is not null) entries.Add(("archive/data/0", storage));
        CraftedPth.WriteZip(path, entries.ToArray());
        return path;
    }
}

using System.Text;
using Smile.Data;
using Smile.Plots;
using Smile.Training;
using static TorchSharp.torch;

namespace Smile.Tests.Plots;

/// <summary>The event reader against files written by TorchSharp's own SummaryWriter, as Trainer writes them.</summary>
public sealed class TensorBoardScalarsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smile-tb-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // Values that a decimal round trip or a double/float mix-up would change.
    private static readonly (string Tag, int Step, float Value)[] Written =
    [
        ("train_loss", 0, 2.3025851f), ("train_ce", 0, 2.1f), ("lr", 0, 0.01f), ("train_acc", 0, float.NaN),
        ("train_loss", 1, 1.0000001f), ("train_ce", 1, 0.3333333f), ("lr", 1, 0.0099995f), ("train_acc", 1, 0.125f),
        ("val_loss", 1, 1.5e-7f), ("val_acc", 1, 0.6789f),
        ("train_loss", 70000, float.MaxValue), ("lr", 70000, -0f), ("train_acc", 70000, 1f),
    ];

    private static string WriteRun(string folder, IEnumerable<(string Tag, int Step, float Value)> scalars)
    {
        var writer = utils.tensorboard.SummaryWriter(folder);
        foreach (var (tag, step, value) in scalars) writer.add_scalar(tag, value, step);
        return Assert.Single(Directory.GetFiles(folder, TensorBoardScalars.FilePattern));
    }

    [Fact]
    public void ReadsBackEveryScalarTheSummaryWriterWroteExactly()
    {
        string file = WriteRun(_dir, Written);
        var read = TensorBoardScalars.ReadFile(file);
        Assert.Equal(Written.Length, read.Count); // the file_version event carries no scalar
        for (int i = 0; i < Written.Length; i++)
        {
            Assert.Equal(Written[i].Tag, read[i].Tag);
            Assert.Equal(Written[i].Step, read[i].Point.Step);
            Assert.Equal(BitConverter.SingleToInt32Bits(Written[i].Value), BitConverter.SingleToInt32Bits(read[i].Point.Value)); // bit for bit
        }

        var byTag = TensorBoardScalars.ReadFolder(_dir);
        Assert.Equal(["lr", "train_acc", "train_ce", "train_loss", "val_acc", "val_loss"], byTag.Keys);
        Assert.Equal([0L, 1, 70000], byTag["train_loss"].Select(p => p.Step));
        Assert.Equal(0.6789f, Assert.Single(byTag["val_acc"]).Value);
    }

    [Fact]
    public void ReadsTheWallTimeTheWriterWasGiven()
    {
        var writer = utils.tensorboard.SummaryWriter(_dir);
        writer.add_scalar("lr", 0.5f, 3, walltime: 1_700_000_123L);
        var point = Assert.Single(TensorBoardScalars.ReadFolder(_dir)["lr"]);
        Assert.Equal(1_700_000_123.0, point.WallTime);
        Assert.Equal(3, point.Step);
    }

    [Fact]
    public void SkipsTextAndHistogramEventsInTheSameFile()
    {
        var writer = utils.tensorboard.SummaryWriter(_dir);
        writer.add_scalar("train_loss", 1.5f, 0);
        writer.add_text("note", "a text summary: a tensor value with plugin metadata", 0);
#pragma warning disable SMILE001 // TorchSharp's histogram summary makes Scalars inside; here only to write a histogram event to skip
        using (var values = linspace(0, 1, 50)) writer.add_histogram("weights", values, 0);
#pragma warning restore SMILE001
        writer.add_scalar("train_loss", 0.5f, 1);
        var byTag = TensorBoardScalars.ReadFolder(_dir);
        Assert.Equal(["train_loss"], byTag.Keys);
        Assert.Equal([1.5f, 0.5f], byTag["train_loss"].Select(p => p.Value));
    }

    [Fact]
    public void ACorruptByteAnywhereIsADataExceptionNamingTheFile()
    {
        string file = WriteRun(_dir, Written);
        byte[] original = File.ReadAllBytes(file);
        // A byte in the length of a record, one in its length checksum, one in an event, one in a payload checksum.
        int second = RecordStarts(original)[1];
        int payloadLength = (int)BitConverter.ToUInt64(original, second);
        foreach (int at in new[] { second, second + 9, second + 12 + payloadLength / 2, second + 12 + payloadLength + 1 })
        {
            var bytes = (byte[])original.Clone();
            bytes[at] ^= 0x10;
            File.WriteAllBytes(file, bytes);
            var e = Assert.Throws<DataException>(() => TensorBoardScalars.ReadFile(file));
            Assert.Contains(file, e.Message);
            Assert.Contains("record 1 ", e.Message);
        }
    }

    [Fact]
    public void ATruncatedLastRecordIsSkippedAsARunStillBeingWritten()
    {
        string file = WriteRun(_dir, Written);
        byte[] whole = File.ReadAllBytes(file);
        int last = RecordStarts(whole)[^1];
        // Cut in the header, in the length checksum, in the event, and in the closing checksum.
        foreach (int keep in new[] { last + 3, last + 10, last + 15, whole.Length - 1 })
        {
            File.WriteAllBytes(file, whole[..keep]);
            var read = TensorBoardScalars.ReadFile(file);
            Assert.Equal(Written.Length - 1, read.Count);
            Assert.Equal(Written[^2].Tag, read[^1].Tag);
        }
        File.WriteAllBytes(file, whole);
        Assert.Equal(Written.Length, TensorBoardScalars.ReadFile(file).Count);
    }

    [Fact]
    public void AResumedRunsLaterFileWinsForTheStepsLoggedTwice()
    {
        var first = utils.tensorboard.SummaryWriter(_dir);
        for (int step = 0; step < 5; step++) first.add_scalar("train_loss", step, step);
        Thread.Sleep(5); // the file names hold the writer's clock ticks
        var resumed = utils.tensorboard.SummaryWriter(_dir);
        for (int step = 3; step < 6; step++) resumed.add_scalar("train_loss", 100 + step, step);
        Assert.Equal(2, TensorBoardScalars.EventFiles(_dir).Count);
        Assert.Equal([0f, 1, 2, 103, 104, 105], TensorBoardScalars.ReadFolder(_dir)["train_loss"].Select(p => p.Value));
    }

    [Fact]
    public void RunFoldersAreTheFoldersHoldingEventFiles()
    {
        WriteRun(Path.Combine(_dir, "smile"), [("lr", 0, 1f)]);
        WriteRun(Path.Combine(_dir, "l2"), [("lr", 0, 1f)]);
        Directory.CreateDirectory(Path.Combine(_dir, "empty"));
        Assert.Equal([Path.Combine(_dir, "l2"), Path.Combine(_dir, "smile")], TensorBoardScalars.RunFolders(_dir));
    }

    [Fact]
    public void Crc32CMatchesTheStandardCheckValue()
    {
        Assert.Equal(0xE3069283u, TensorBoardScalars.Crc32C(Encoding.ASCII.GetBytes("123456789")));
        Assert.Equal(0u, TensorBoardScalars.Crc32C([]));
    }

    /// <summary>Where each record starts, from the framing (trusting the lengths: the file is whole here).</summary>
    private static List<int> RecordStarts(byte[] bytes)
    {
        var starts = new List<int>();
        for (int at = 0; at < bytes.Length; at += 12 + (int)BitConverter.ToUInt64(bytes, at) + 4) starts.Add(at);
        return starts;
    }
}

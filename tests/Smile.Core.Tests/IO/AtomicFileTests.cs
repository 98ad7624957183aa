using System.Diagnostics;
using Smile.IO;

namespace Smile.Tests.IO;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smile-atomic-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static string[] Names(string folder) =>
        Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    [Fact]
    public void TemporaryNamesCarryTheProcessIdAndAreRecognised()
    {
        var target = PathOf("model.safetensors");
        var name = AtomicFile.TemporaryName(target);
        Assert.Equal(_dir, Path.GetDirectoryName(name));
        Assert.Matches($@"^model\.safetensors\.tmp-{Environment.ProcessId}-[0-9a-f]{{12}}$", Path.GetFileName(name));
        Assert.NotEqual(name, AtomicFile.TemporaryName(target));
        Assert.True(AtomicFile.IsTemporary(name));
        Assert.True(AtomicFile.IsTemporary("model.safetensors.tmp-0123456789ab")); // the name before ids were added
        Assert.False(AtomicFile.IsTemporary(target));
        Assert.False(AtomicFile.IsTemporary("notes.tmp-draft"));
    }

    [Fact]
    public void WriteReplacesTheTargetThroughAStreamAndLeavesNothingElse()
    {
        var target = PathOf("a.bin");
        File.WriteAllBytes(target, [1, 2, 3]);
        string? seenTemporary = null;
        AtomicFile.Write(target, stream =>
        {
            seenTemporary = stream.Name;
            Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(target)); // the old file stays whole meanwhile
            stream.Write([4, 5]);
        }, flushToDisk: true);
        Assert.Equal(new byte[] { 4, 5 }, File.ReadAllBytes(target));
        Assert.True(AtomicFile.IsTemporary(seenTemporary!));
        Assert.Equal(["a.bin"], Names(_dir));
    }

    [Fact]
    public void AFailedWriteKeepsTheOldFileAndRemovesItsTemporary()
    {
        var target = PathOf("b.bin");
        File.WriteAllBytes(target, [7]);
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(target, stream =>
        {
            stream.Write([1, 1, 1]);
            throw new InvalidOperationException("disk full, say");
        }));
        Assert.Throws<IOException>(() => AtomicFile.Replace(target, temporary =>
        {
            File.WriteAllBytes(temporary, [2]);
            throw new IOException("copy failed");
        }));
        Assert.Equal(new byte[] { 7 }, File.ReadAllBytes(target));
        Assert.Equal(["b.bin"], Names(_dir));
    }

    [Fact]
    public void WriteAllBytesCreatesTheFolder()
    {
        var target = Path.Combine(_dir, "new", "deeper", "c.json");
        AtomicFile.WriteAllBytes(target, [9]);
        Assert.Equal(new byte[] { 9 }, File.ReadAllBytes(target));
    }

    [Fact]
    public void RemoveStaleTemporariesDeletesOnlyAbandonedTemporaries()
    {
        int dead = ExitedProcessId();
        using var alive = Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;
        try
        {
            string Touch(string name, TimeSpan age)
            {
                var path = PathOf(name);
                File.WriteAllBytes(path, [0]);
                File.SetLastWriteTimeUtc(path, DateTime.UtcNow - age);
                return name;
            }
            var young = TimeSpan.FromMinutes(1);
            var old = TimeSpan.FromHours(2);
            var deadOwner = Touch($"m.safetensors.tmp-{dead}-0123456789ab", young);
            var aliveYoung = Touch($"m.safetensors.tmp-{alive.Id}-0123456789ab", young);
            var aliveOld = Touch($"c.png.tmp-{alive.Id}-abcdefabcdef", old);
            var mineOld = Touch($"d.csv.tmp-{Environment.ProcessId}-abcdefabcdef", old);
            var legacyYoung = Touch("e.safetensors.tmp-00112233aabb", young);
            var legacyOld = Touch("f.safetensors.tmp-44556677ccdd", old);
            var notOurs = Touch("notes.tmp-draft", old);
            var target = Touch("m.safetensors", old);
            var nested = Directory.CreateDirectory(PathOf("sub")).FullName;
            File.WriteAllBytes(Path.Combine(nested, $"x.tmp-{dead}-0123456789ab"), [0]);

            var removed = AtomicFile.RemoveStaleTemporaries(_dir);

            Assert.Equal(new[] { aliveOld, deadOwner, legacyOld }.Order(StringComparer.Ordinal), removed.Select(Path.GetFileName).Order(StringComparer.Ordinal));
            Assert.Equal(new[] { aliveYoung, mineOld, legacyYoung, notOurs, target }.Order(StringComparer.Ordinal), Names(_dir));
            Assert.Single(Directory.GetFiles(nested)); // only the folder given, not below it
            Assert.Empty(AtomicFile.RemoveStaleTemporaries(PathOf("missing")));
        }
        finally
        {
            alive.Kill();
        }
    }

    /// <summary>The id of a process that has already exited (ids are not reused that quickly).</summary>
    private static int ExitedProcessId()
    {
        using var process = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        process.WaitForExit();
        return process.Id;
    }
}

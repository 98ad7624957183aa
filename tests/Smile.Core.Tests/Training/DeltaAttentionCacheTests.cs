using System.Globalization;
using Smile.Data;
using Smile.Methods;
using Smile.Models;
using Smile.Training;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

/// <summary>
/// The delta method's attention cache (src/Smile.Core/Training/DeltaRegularizer.cs): a second pre-pass with the same inputs
/// loads the file the first wrote, bit for bit, without running; the attention with the cache is the one without it; each
/// input of the key changes it, a copy of the data elsewhere does not; a damaged or mismatched file is computed again and
/// overwritten, with one warning naming it. A random resnet18 at 32 x 32 on six tiny images (one head epoch, one
/// ablation batch) keeps each pre-pass cheap.
/// </summary>
public sealed class DeltaAttentionCacheTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("smile-delta-cache-").FullName;
    private readonly ResNet source;
    private readonly ImageFolder train;

    public DeltaAttentionCacheTests()
    {
        random.manual_seed(11);
        source = (ResNet)ModelFactory.Create("resnet18", 5);
        source.eval();
        train = Folder("train");
    }

    public void Dispose()
    {
        source.Dispose();
        Directory.Delete(root, recursive: true);
    }

    [Fact]
    public void ASecondPrepassLoadsTheCachedAttentionBitForBit()
    {
        var save = Path.Combine(root, "save");
        var first = Prepass(save);
        var file = Assert.Single(Directory.GetFiles(save, "delta_attention_*.safetensors"));
        Assert.Contains(first.Lines, l => l.StartsWith("DELTA attention computed in", StringComparison.Ordinal) && l.EndsWith($"written to {file}", StringComparison.Ordinal));

        var second = Prepass(save);
        Assert.Contains($"DELTA attention loaded from {file}", second.Lines);
        Assert.DoesNotContain(second.Lines, l => l.Contains("computed", StringComparison.Ordinal));
        Assert.Equal(4, second.Lines.Count(l => l.StartsWith("DELTA attention layer", StringComparison.Ordinal)));
        AssertSameBits(first.Attention, second.Attention);

        // The cache changes nothing: without one the pre-pass computes the same attention.
        var uncached = Prepass(Path.Combine(root, "uncached"), file: "none");
        Assert.Contains(uncached.Lines, l => l.StartsWith("DELTA attention computed in", StringComparison.Ordinal) && l.EndsWith("not cached", StringComparison.Ordinal));
        Assert.False(Directory.Exists(Path.Combine(root, "uncached")));
        AssertSameBits(first.Attention, uncached.Attention);
    }

    [Fact]
    public void EachInputOfThePrepassChangesTheKeyAndACopyOfTheDataDoesNot()
    {
        string baseline = Key(train);
        Assert.Matches("^[0-9a-f]{16}$", baseline);
        Assert.Equal(baseline, Key(train));
        Assert.Equal(baseline, Key(Folder("copy"))); // the same images under another root
        Assert.NotEqual(baseline, Key(train, seed: 4));
        Assert.NotEqual(baseline, Key(train, epochs: 2));
        Assert.NotEqual(baseline, Key(train, batches: 2));
        Assert.NotEqual(baseline, Key(train, imageSize: 40));

        var renamed = Folder("renamed");
        File.Move(renamed.Samples[1].Path, Path.Combine(Path.GetDirectoryName(renamed.Samples[1].Path)!, "z.jpg"));
        Assert.NotEqual(baseline, Key(ImageFolder.ForTraining(Path.Combine(root, "renamed"))));

        var edited = Folder("edited");
        File.AppendAllText(edited.Samples[4].Path, "x"); // one byte longer
        Assert.NotEqual(baseline, Key(edited));

        using (no_grad())
        {
            var weight = source.named_parameters().First(p => p.name == "layer2.0.conv1.weight").parameter;
            weight[0, 0, 0, 0] = weight[0, 0, 0, 0].Plus(1e-3f);
        }
        Assert.NotEqual(baseline, Key(train));
    }

    [Fact]
    public void ADamagedCacheIsComputedAgainWithOneWarningAndOverwritten()
    {
        var save = Path.Combine(root, "damaged");
        var first = Prepass(save);
        var file = Assert.Single(Directory.GetFiles(save, "delta_attention_*.safetensors"));
        var bytes = File.ReadAllBytes(file);

        File.WriteAllBytes(file, bytes[..(bytes.Length / 2)]); // truncated
        var truncated = Prepass(save);
        AssertRecomputedWithOneWarning(truncated.Lines, file);
        AssertSameBits(first.Attention, truncated.Attention);
        Assert.Equal(bytes, File.ReadAllBytes(file)); // overwritten whole

        var flipped = (byte[])bytes.Clone();
        flipped[^3] ^= 0x40; // one bit of the last attention weight
        File.WriteAllBytes(file, flipped);
        var corrupted = Prepass(save);
        AssertRecomputedWithOneWarning(corrupted.Lines, file, "does not match its checksum");
        AssertSameBits(first.Attention, corrupted.Attention);
        Assert.Contains($"DELTA attention loaded from {file}", Prepass(save).Lines);
    }

    [Fact]
    public void AGivenFileOfOtherInputsIsComputedAgainNamingTheInputThatDiffers()
    {
        var shared = Path.Combine(root, "shared", "attention.safetensors"); // its folder is created
        var seed3 = Prepass(Path.Combine(root, "a"), file: shared);
        Assert.Contains(seed3.Lines, l => l.EndsWith($"written to {shared}", StringComparison.Ordinal));
        Assert.Contains($"DELTA attention loaded from {shared}", Prepass(Path.Combine(root, "b"), file: shared).Lines);

        var seed4 = Prepass(Path.Combine(root, "c"), seed: 4, file: shared);
        AssertRecomputedWithOneWarning(seed4.Lines, shared, "its seed is 3, this run's 4");
        Assert.Contains($"DELTA attention loaded from {shared}", Prepass(Path.Combine(root, "d"), seed: 4, file: shared).Lines);
    }

    [Theory]
    [InlineData("on", "FOLDER", "is a folder, not a file: ")]
    [InlineData("on", " ", "is blank")]
    [InlineData("off", "attention.safetensors", "is used only with delta_attention on")]
    public void ABadFileSettingIsRefusedNamingIt(string attention, string file, string problem)
    {
        var e = Assert.Throws<MethodSettingException>(() => Regularizers.Configure("delta", new MethodValues()
            .With("delta_attention", attention).With("delta_attention_file", file == "FOLDER" ? root : file)));
        Assert.Equal("delta_attention_file", e.Setting);
        Assert.StartsWith(problem, e.Problem, StringComparison.Ordinal);
    }

    private static void AssertRecomputedWithOneWarning(List<string> lines, string file, string? problem = null)
    {
        var warning = Assert.Single(lines, l => l.Contains("cannot be used", StringComparison.Ordinal));
        Assert.Contains(file, warning);
        if (problem is not null) Assert.Contains(problem, warning);
        Assert.Contains(lines, l => l.StartsWith("DELTA attention computed in", StringComparison.Ordinal) && l.EndsWith($"written to {file}", StringComparison.Ordinal));
    }

    private static void AssertSameBits(float[][] expected, float[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int j = 0; j < expected.Length; j++)
            Assert.Equal(expected[j].Select(BitConverter.SingleToInt32Bits), actual[j].Select(BitConverter.SingleToInt32Bits));
    }

    /// <summary>Two classes of three 24 x 24 JPEGs, the same pictures in every folder.</summary>
    private ImageFolder Folder(string name)
    {
        var dir = Path.Combine(root, name);
        int seed = 0;
        foreach (var label in new[] { "a", "b" })
        {
            var folder = Directory.CreateDirectory(Path.Combine(dir, label)).FullName;
            for (int i = 0; i < 3; i++) SyntheticPhotos.WriteJpeg(SyntheticPhotos.Render(24, 24, seed++), Path.Combine(folder, $"{i}.jpg"));
        }
        return ImageFolder.ForTraining(dir);
    }

    private (List<string> Lines, float[][] Attention) Prepass(string save, int seed = 3, string? file = null)
    {
        var values = new MethodValues().With("delta_attention_epochs", 1L).With("delta_attention_batches", 1L);
        if (file is not null) values = values.With("delta_attention_file", file);
        using var method = (DeltaRegularizer)Regularizers.Configure("delta", values);
        var log = new Serilog.LoggerConfiguration().WriteTo.Sink(new ListSink(out var lines)).CreateLogger();
        // A dry-run-like save folder that does not exist yet: the cache creates it only when it writes there.
        method.Prepare(new MethodSetup(train, CPU, 32, log) { Seed = seed, Save = save });
        using var student = ModelFactory.Create("resnet18", 2);
        using var ctx = new TrainingContext(student, source, new LossOptions());
        method.BeforeStep(ctx, null!, 0);
        return (lines, method.Attention!.Select(a => a.ToArray()).ToArray());
    }

    private string Key(ImageFolder data, int seed = 3, long epochs = 1, long batches = 1, int imageSize = 32)
    {
        using var method = (DeltaRegularizer)Regularizers.Configure("delta", new MethodValues()
            .With("delta_attention_epochs", epochs).With("delta_attention_batches", batches));
        var setup = new MethodSetup(data, CPU, imageSize, Serilog.Core.Logger.None) { Seed = seed };
        return method.CacheInputs(source, TransformSpec.ForTraining(imageSize), setup, CPU)["key"];
    }

    /// <summary>The rendered lines of a Serilog logger (DeltaTests uses it too).</summary>
    internal sealed class ListSink : Serilog.Core.ILogEventSink
    {
        private readonly List<string> lines = [];
        public ListSink(out List<string> lines) => lines = this.lines;
        public void Emit(Serilog.Events.LogEvent logEvent) => lines.Add(logEvent.RenderMessage(CultureInfo.InvariantCulture));
    }
}

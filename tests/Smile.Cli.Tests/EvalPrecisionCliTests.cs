using System.Globalization;
using System.Text.Json;
using Smile.Models;
using Smile.Weights;

namespace Smile.Tests.Cli;

/// <summary>--precision of the evaluating verbs (test, predict, calibrate, simtrans weights) on the CPU's autocast, as child processes.</summary>
public sealed class EvalPrecisionCliTests(TinyTransferFixture data) : IClassFixture<TinyTransferFixture>
{
    private static readonly object SaveLock = new();

    /// <summary>A seeded ResNet-18 checkpoint for the tiny task's three classes at 32x32 (saved once per class).</summary>
    private string Checkpoint()
    {
        string path = Path.Combine(data.Root, "eval-precision.safetensors");
        lock (SaveLock)
        {
            if (File.Exists(path)) return path;
            TorchSharp.torch.random.manual_seed(11);
            using var model = ModelFactory.Create("resnet18", 3);
            Smile.Weights.Checkpoint.Save(path, model, new CheckpointInfo("resnet18", ["ant", "bee", "cat"], null, 32,
                [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], 0, 0, "l2", new Dictionary<string, string>()));
        }
        return path;
    }

    private JsonElement Test(string precision)
    {
        string json = Path.Combine(data.Root, $"eval-precision-{precision}.json");
        var r = SmileProcess.Run("test", "--ckpts", Checkpoint(), "--test_dir", data.Test, "--batch_size", "4", "--workers", "1",
            "--precision", precision, "--json", json);
        Assert.True(r.ExitCode == 0, $"{r.Describe()}: {r.Stderr}");
        return JsonDocument.Parse(File.ReadAllText(json)).RootElement;
    }

    [Fact]
    public void TestInBf16GivesTheFp32FiguresToBf16sRoundingAndSaysSo()
    {
        var fp32 = Test("fp32");
        var bf16 = Test("bf16");
        Assert.Equal("fp32", fp32.GetProperty("precision").GetString());
        Assert.Equal("bf16", bf16.GetProperty("precision").GetString());
        Assert.Equal("cpu", bf16.GetProperty("device").GetString());
        int images = fp32.GetProperty("images").GetInt32();
        Assert.Equal(images, bf16.GetProperty("images").GetInt32());
        double loss32 = fp32.GetProperty("loss").GetDouble(), loss16 = bf16.GetProperty("loss").GetDouble();
        // Autocast really ran (bf16 rounds the convolutions) and stayed close (fp32 logits, fp32 softmax).
        Assert.NotEqual(loss32, loss16);
        Assert.True(Math.Abs(loss32 - loss16) < 0.05, $"loss fp32 {loss32}, bf16 {loss16}");
        double top32 = fp32.GetProperty("top1").GetDouble(), top16 = bf16.GetProperty("top1").GetDouble();
        Assert.True(Math.Abs(top32 - top16) <= 1.0 / images + 1e-9, $"top-1 fp32 {top32}, bf16 {top16} over {images} images");
    }

    [Fact]
    public void PredictInBf16GivesTheFp32ProbabilitiesToBf16sRounding()
    {
        string Predict(string precision)
        {
            var r = SmileProcess.Run("predict", "--ckpts", Checkpoint(), "--input", data.Test, "--topk", "3", "--precision", precision);
            Assert.True(r.ExitCode == 0, $"{r.Describe()}: {r.Stderr}");
            return r.Stdout;
        }
        static Dictionary<(string, string), double> Probabilities(string csv) =>
            csv.Trim().Split('\n').Skip(1).Select(l => l.Split(','))
                .ToDictionary(f => (f[0], f[2]), f => double.Parse(f[3], CultureInfo.InvariantCulture));
        var fp32 = Probabilities(Predict("fp32"));
        var bf16 = Probabilities(Predict("bf16"));
        Assert.Equal(fp32.Keys.Order(), bf16.Keys.Order());
        double largest = fp32.Max(kv => Math.Abs(kv.Value - bf16[kv.Key]));
        Assert.True(largest > 0, "bf16 gave fp32's probabilities bit for bit: autocast did not run");
        Assert.True(largest < 0.02, $"largest probability difference {largest}");
    }

    [Theory]
    [InlineData("test")]
    [InlineData("predict")]
    [InlineData("calibrate")]
    [InlineData("simtrans weights")]
    public void AnUnknownPrecisionNamesTheFlag(string verb)
    {
        string[] args = verb switch
        {
            "test" => ["test", "--ckpts", Checkpoint(), "--test_dir", data.Test],
            "predict" => ["predict", "--ckpts", Checkpoint(), "--input", data.Test],
            "calibrate" => ["calibrate", "--ckpts", Checkpoint(), "--val_dir", data.Test],
            _ => ["simtrans", "weights", "--simnet", Checkpoint(), "--web_dir", data.Test, "--out", Path.Combine(data.Root, "w.csv")],
        };
        var r = SmileProcess.Run([.. args, "--precision", "fp8"]);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: --precision: must be fp32, bf16, fp16, not 'fp8'", r.Stderr.Trim());
    }
}

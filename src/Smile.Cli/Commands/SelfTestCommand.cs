using System.CommandLine;
using Smile.Diagnostics;

namespace Smile.Cli.Commands;

/// <summary>`smile selftest`: full training steps on random data, to check that this machine can train a model
/// (some CPUs crash LibTorch's oneDNN in convolution backward; see `smile info`).</summary>
internal static class SelfTestCommand
{
    public static Command Create()
    {
        var arch = new Option<string>("--model_arch", "--model-arch") { Description = "Architecture to train.", DefaultValueFactory = _ => "resnet50" };
        var batch = new Option<int>("--batch_size", "--batch-size") { Description = "Images per step.", DefaultValueFactory = _ => 16 };
        var size = new Option<int>("--image_size", "--image-size") { Description = "Square input size.", DefaultValueFactory = _ => 224 };
        var steps = new Option<int>("--steps") { Description = "Training steps to run.", DefaultValueFactory = _ => 2 };
        var precision = new Option<string>("--precision") { Description = "fp32, bf16 or fp16: the step's arithmetic, as `finetune --precision`.", DefaultValueFactory = _ => "fp32" };
        var layout = new Option<string>("--channels_last", "--channels-last") { Description = "on or off: batches in channels-last (NHWC) memory format, as `finetune --channels_last on`.", DefaultValueFactory = _ => "off" };
        var command = new Command("selftest", "Run full training steps (forward, backward, SGD update) on random data.") { arch, batch, size, steps, precision, layout };
        command.SetAction(parse =>
        {
            Flags.Require(parse.GetValue(batch) >= 2, "batch_size", "must be at least 2 (BatchNorm in train mode)");
            Flags.ImageSize(parse.GetValue(size));
            Flags.Require(parse.GetValue(steps) >= 1, "steps", "must be at least 1");
            string channelsLast = parse.GetValue(layout)!.Trim().ToLowerInvariant();
            Flags.Require(channelsLast is "on" or "off", "channels_last", $"must be on or off, not '{channelsLast}'");
            var arithmetic = EvalPrecision.Read(parse.GetValue(precision), TorchSharp.torch.CPU);
            var report = TrainingStepCheck.Run(parse.GetValue(arch)!, parse.GetValue(batch), parse.GetValue(size), parse.GetValue(steps), precision: arithmetic,
                channelsLast: channelsLast == "on");
            for (int i = 0; i < report.Losses.Count; i++)
                Console.WriteLine($"step {i + 1}: loss {report.Losses[i]:F4}, {report.Seconds[i]:F2} s ({report.BatchSize / report.Seconds[i]:F1} images/s)");
            if (report.InferenceSeconds is double inference)
                Console.WriteLine($"inference forward ({report.InferencePath}): {inference:F2} s ({report.BatchSize / inference:F1} images/s)");
            bool finite = report.Losses.All(double.IsFinite);
            Console.WriteLine(finite
                ? $"selftest ok: {report.Arch}, batch {report.BatchSize}, {report.ImageSize}x{report.ImageSize}, {arithmetic.Name}, {report.Layout}"
                : $"selftest FAILED: {report.Arch}: non-finite loss");
            return finite ? 0 : 1;
        });
        return command;
    }
}

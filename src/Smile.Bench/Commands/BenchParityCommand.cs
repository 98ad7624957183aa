using System.CommandLine;
using Smile.Cli;
using Smile.Models;
using Smile.Training;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Bench.Commands;

/// <summary>
/// `smile bench parity`: the numbers a same-machine PyTorch compares against (scripts/gpu-check.sh with
/// scripts/gpu_check.py). Loads a state dict (`smile init` writes one) into the architecture, draws a seeded input
/// batch on the CPU, runs the eval-mode forward on --device in --precision (the module and, for a ResNet, the
/// BatchNorm-folded network evaluation uses) with TF32 off and writes the input and both logits to a safetensors file.
/// </summary>
internal static class BenchParityCommand
{
    public static Command Create()
    {
        var weights = Flags.Optional<string>("weights", "State dict of the architecture (safetensors or .pth), e.g. from `smile init`.");
        var arch = Flags.Make("model_arch", "Architecture.", "resnet50");
        var size = Flags.Make("image_size", "Input size.", 224);
        var batch = Flags.Make("batch_size", "Batch size.", 4);
        var device = Flags.Make("device", "cpu, cuda, cuda:N or auto.", "cpu");
        var precision = Flags.Make("precision", "fp32, bf16 or fp16 (autocast around the forward).", "fp32");
        var output = Flags.Optional<string>("out", "Safetensors file for input, logits and folded_logits.");
        var command = new Command("parity", "Eval-mode logits of a state dict on a seeded input, for comparison with PyTorch (scripts/gpu-check.sh).")
            { weights, arch, size, batch, device, precision, output };
        command.SetAction(parse =>
        {
            string path = Flags.ExistingFile(parse.GetValue(weights), "weights");
            string a = ModelFactory.CanonicalName(parse.GetValue(arch)!);
            int s = parse.GetValue(size), b = parse.GetValue(batch);
            Flags.ImageSize(s);
            Flags.Require(b >= 1, "batch_size", "must be at least 1");
            string amp = Flags.Precision(parse.GetValue(precision));
            string outPath = Flags.OutputFile(parse.GetValue(output), "out") ?? throw new UsageException("--out: is required");
            var target = ParityDevice.Parse(parse.GetValue(device)!);
            var arithmetic = MixedPrecision.Create(amp, out var fallback);
            if (fallback is not null) Console.Error.WriteLine($"warning: {fallback}");

            var (tensors, _) = ClassifierWeights.Read(path, withAuxHead: false);
            int classes = (int)tensors[ModelFactory.HeadName(a) + ".weight"].shape[0];
            foreach (var t in tensors.Values) t.Dispose();
            using var model = ModelFactory.Create(a, classes);
            ClassifierWeights.LoadInto(model, path, withAuxHead: false);
            model.to(target).eval();

            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var generator = new TorchSharp.torch.Generator(0);
            var input = randn([b, 3, s, s], generator: generator, device: CPU);
            var onDevice = input.to(target);
            var results = new Dictionary<string, Tensor> { ["input"] = input };
            using (arithmetic.Enter(target))
            {
                results["logits"] = model.call(onDevice).Logits.cpu();
                if (model is ResNet resnet)
                {
                    using var folded = new FoldedResNet(resnet);
                    results["folded_logits"] = folded.Forward(onDevice).Logits.cpu();
                }
            }
            Flags.Writing("out", outPath, () => SafetensorsFile.Write(outPath, results, new Dictionary<string, string>
            {
                ["arch"] = a, ["device"] = target.ToString(), ["precision"] = arithmetic.Name,
            }));
            Console.WriteLine($"wrote {outPath}: {a}, batch {b}, {s}x{s}, {arithmetic.Name} on {target}");
            return 0;
        });
        return command;
    }
}

using System.CommandLine;
using Smile.Models;
using Smile.Weights;
using static TorchSharp.torch;

namespace Smile.Cli.Commands;

/// <summary>`smile init`: a freshly initialised model (torchvision's initialisation, seeded) written to safetensors.</summary>
internal static class InitCommand
{
    public static Command Create()
    {
        var arch = new Option<string>("--model_arch", "--model-arch") { Description = $"Architecture ({string.Join(", ", ModelFactory.Names)}).", Required = true };
        var classes = new Option<int>("--num_classes", "--num-classes") { Description = "Outputs of fc.", DefaultValueFactory = _ => 1000 };
        var output = new Option<FileInfo>("--output", "-o") { Description = "Safetensors file to write (atomically).", Required = true };
        var seed = new Option<int>("--seed") { Description = "Random seed of the initialisation.", DefaultValueFactory = _ => 0 };
        var command = new Command("init", "Write a freshly initialised model's weights to a safetensors file.") { arch, classes, output, seed };
        command.SetAction(parse =>
        {
            var target = parse.GetValue(output)!;
            if (!target.Name.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
                throw new UsageException($"--output: {target.FullName}: Smile writes safetensors; use a .safetensors name");
            random.manual_seed(parse.GetValue(seed));
            using var model = ModelFactory.Create(parse.GetValue(arch)!, parse.GetValue(classes));
            var metadata = new Dictionary<string, string> { ["architecture"] = model.Architecture, ["format"] = "pt" };
            SafetensorsFile.Write(target.FullName, model.state_dict(), metadata);
            Console.WriteLine($"wrote {target.FullName}: {model.Architecture}, {model.NumClasses} classes");
            return 0;
        });
        return command;
    }
}

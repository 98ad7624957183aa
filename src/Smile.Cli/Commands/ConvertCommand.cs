using System.CommandLine;
using Smile.Models;
using Smile.Weights;
using static TorchSharp.torch;

namespace Smile.Cli.Commands;

/// <summary>`smile convert`: a PyTorch .pth (or safetensors) state dict to safetensors, optionally checked
/// against an architecture first, so that a bad download fails here and not an hour into a run.</summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var input = new Option<FileInfo>("--input", "-i") { Description = "Weight file to read (.pth/.pt state dict or .safetensors).", Required = true };
        var output = new Option<FileInfo>("--output", "-o") { Description = "Safetensors file to write (atomically).", Required = true };
        var arch = new Option<string?>("--model_arch", "--model-arch") { Description = $"Check that the weights load strictly into this architecture ({string.Join(", ", ModelFactory.Names)})." };
        var command = new Command("convert", "Convert a weight file to safetensors, optionally verifying it against an architecture.")
        {
            input, output, arch,
        };
        command.SetAction(parse =>
        {
            var source = parse.GetValue(input)!;
            var target = parse.GetValue(output)!;
            string? archName = parse.GetValue(arch);
            if (string.Equals(source.FullName, target.FullName, StringComparison.Ordinal))
                throw new UsageException("--output: must differ from --input");
            if (!target.Name.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
                throw new UsageException($"--output: {target.FullName}: Smile writes safetensors; use a .safetensors name");

            using var scope = NewDisposeScope();
            var tensors = WeightFile.Read(source.FullName);
            if (archName is not null)
                Verify(archName, tensors, source.FullName);
            var metadata = new Dictionary<string, string> { ["converted_from"] = source.Name, ["format"] = "pt" };
            if (archName is not null) metadata["architecture"] = ModelFactory.CanonicalName(archName);
            SafetensorsFile.Write(target.FullName, tensors, metadata);
            long count = tensors.Values.Sum(t => t.numel());
            Console.WriteLine($"wrote {target.FullName}: {tensors.Count} tensors, {count / 1e6:F1}M values");
            return 0;
        });
        return command;
    }

    private static void Verify(string archName, IReadOnlyDictionary<string, Tensor> tensors, string path)
    {
        string name = ModelFactory.CanonicalName(archName), head = ModelFactory.HeadName(archName);
        if (!tensors.TryGetValue(head + ".weight", out var fcWeight) || fcWeight.dim() != 2)
            throw new WeightFileException(path, $"no 2-D {head}.weight: not a {name} classifier state dict");
        int? aux = tensors.TryGetValue("aux_fc.weight", out var auxWeight) ? (int)auxWeight.shape[0] : null;
        using var model = ModelFactory.Create(name, (int)fcWeight.shape[0], aux);
        StateDictLoader.Load(model, tensors, path);
        Console.WriteLine($"verified: loads strictly into {name} ({fcWeight.shape[0]} classes{(aux is int a ? $", aux head {a}" : "")})");
    }
}

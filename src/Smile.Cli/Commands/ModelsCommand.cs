using System.CommandLine;
using Smile.Models;

namespace Smile.Cli.Commands;

/// <summary>`smile models`: the architectures `--model_arch` accepts.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var command = new Command("models", "List the model architectures (--model_arch values) with their parameter counts.");
        command.SetAction(_ =>
        {
            foreach (var spec in ResNetSpec.All)
            {
                using var model = new ResNet(spec, 1000);
                long parameters = model.parameters().Sum(p => p.numel());
                Console.WriteLine($"{spec.Name,-10} {parameters / 1e6,6:F1}M parameters with a 1000-class fc, features {model.FeatureChannels} channels");
            }
            return 0;
        });
        return command;
    }
}

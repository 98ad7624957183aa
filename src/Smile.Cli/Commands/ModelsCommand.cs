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
            foreach (var name in ModelFactory.Names)
            {
                using var model = ModelFactory.Create(name, 1000);
                long parameters = model.parameters().Sum(p => p.numel());
                Console.WriteLine($"{name,-12} {parameters / 1e6,6:F1}M parameters with a 1000-class {model.HeadName}, features {model.FeatureChannels} channels");
            }
            return 0;
        });
        return command;
    }
}

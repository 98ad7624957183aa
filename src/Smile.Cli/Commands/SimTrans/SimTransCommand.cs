using System.CommandLine;

namespace Smile.Cli.Commands.SimTrans;

/// <summary>`smile simtrans ...`: weak-shot classification by similarity transfer (docs/METHODS.md, "SimTrans"), one
/// subcommand per stage of the pipeline.</summary>
internal static class SimTransCommand
{
    public static Command Create()
    {
        var command = new Command("simtrans", "SimTrans weak-shot learning: a similarity network trained on clean base classes weighs noisy web images of novel classes.");
        command.Subcommands.Add(TrainSimNetCommand.Create());
        command.Subcommands.Add(WeightsCommand.Create());
        return command;
    }
}

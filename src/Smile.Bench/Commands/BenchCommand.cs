using System.CommandLine;

namespace Smile.Bench.Commands;

/// <summary>`smile bench`: benchmarks that print figures with a same-machine baseline beside them, one file per
/// sub-command.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks that print figures with a same-machine baseline beside them.");
        bench.Subcommands.Add(BenchDataCommand.Create());
        bench.Subcommands.Add(BenchTrainCommand.Create());
        bench.Subcommands.Add(BenchMemoryCommand.Create());
        bench.Subcommands.Add(BenchInferenceCommand.Create());
        bench.Subcommands.Add(BenchProfileCommand.Create());
        bench.Subcommands.Add(BenchParityCommand.Create());
        bench.Subcommands.Add(BenchStepParityCommand.Create());
        bench.Subcommands.Add(BenchGraphParityCommand.Create());
        return bench;
    }
}

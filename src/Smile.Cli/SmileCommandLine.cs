using System.CommandLine;
using Smile.Cli.Commands;

namespace Smile.Cli;

/// <summary>The `smile` command line: every verb, built when asked, so that methods registered before
/// (<see cref="Smile.Methods.Regularizers.Register"/>) get their flags. Program.cs runs it; so can a host process.</summary>
public static class SmileCommandLine
{
    public static RootCommand Build()
    {
        var root = new RootCommand("Smile: transfer learning on images with SMILE (self-distilled mixup) on TorchSharp.");
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(FinetuneCommand.Create());
        root.Subcommands.Add(FinetuneCommand.Create(FinetuneCommand.Profile.Distill));
        root.Subcommands.Add(TestCommand.Create());
        root.Subcommands.Add(PredictCommand.Create());
        root.Subcommands.Add(CalibrateCommand.Create());
        root.Subcommands.Add(ModelsCommand.Create());
        root.Subcommands.Add(ConvertCommand.Create());
        root.Subcommands.Add(SelfTestCommand.Create());
        root.Subcommands.Add(InitCommand.Create());
        root.Subcommands.Add(CheckDataCommand.Create());
        root.Subcommands.Add(SplitCommand.Create());
        root.Subcommands.Add(Commands.Prepare.PrepareCommand.Create());
        root.Subcommands.Add(ReportCommand.Create());
        root.Subcommands.Add(Commands.Sweep.SweepCommand.Create());
        root.Subcommands.Add(PlotCommand.Create());
        root.Subcommands.Add(DemoDataCommand.Create());
        root.Subcommands.Add(Smile.Bench.Commands.BenchCommand.Create());
        root.Subcommands.Add(Commands.SimTrans.SimTransCommand.Create());
        ImageLimitOption.AddTo(root);
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>; the exit code (0, 2 for a user mistake, 130/143 when stopped).</summary>
    public static int Run(string[] args) => CliRunner.Run(Build(), args, ImageLimitOption.Apply);
}

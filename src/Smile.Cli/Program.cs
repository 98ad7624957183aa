using System.CommandLine;
using Smile.Cli;
using Smile.Cli.Commands;

// The `smile` executable: thin verbs over Smile.Core. Flags keep the reference's snake_case
// names (a reference command line pastes as it is) with kebab-case aliases.
Smile.Native.AllocatorPolicy.Apply(); // before the first tensor
Smile.Native.ThreadPolicy.Apply();    // before LibTorch (and its OpenMP) loads

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
root.Subcommands.Add(Smile.Cli.Commands.Prepare.PrepareCommand.Create());
root.Subcommands.Add(ReportCommand.Create());
root.Subcommands.Add(PlotCommand.Create());
root.Subcommands.Add(DemoDataCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(Smile.Cli.Commands.SimTrans.SimTransCommand.Create());
ImageLimitOption.AddTo(root);
return CliRunner.Run(root, args, ImageLimitOption.Apply);

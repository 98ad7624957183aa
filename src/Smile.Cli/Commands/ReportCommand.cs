using System.CommandLine;
using Smile.Training;

namespace Smile.Cli.Commands;

/// <summary>`smile report DIR`: the runs of a --save folder as a table, and their mean ± std over seeds.</summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var folder = new Argument<string>("dir") { Description = "A finetune --save folder (holding *_summary.json)." };
        var csv = Flags.Make("csv", "One CSV line per run (name,regularizer,arch,iterations,last_top1,best_top1,best_iteration,last_nll,seconds) for scripts.", false);
        var command = new Command("report", "Table of the finished runs in a folder: top-1 per run and mean ± std over seeds (names ending _s<seed>).") { folder, csv };
        command.SetAction(parse =>
        {
            string dir = Flags.ExistingDirectory(parse.GetValue(folder), "dir");
            var rows = RunReport.Read(dir);
            if (rows.Count == 0) throw new UsageException($"no *_summary.json in {dir}: finetune writes one per finished run");
            if (parse.GetValue(csv))
            {
                Console.WriteLine("name,regularizer,arch,iterations,last_top1,best_top1,best_iteration,last_nll,seconds");
                foreach (var r in rows)
                    Console.WriteLine(string.Join(',', r.Name, r.Regularizer, r.Architecture, r.Iterations, Invariant(r.LastTop1), Invariant(r.BestTop1), r.BestIteration, Invariant(r.LastNll), Invariant(r.Seconds)));
                return 0;
            }
            Console.WriteLine($"{"run",-24} {"regularizer",-11} {"arch",-9} {"iters",6} {"last top-1",10} {"best top-1",10} {"(at)",6} {"last NLL",8} {"time",8}");
            foreach (var r in rows)
                Console.WriteLine($"{r.Name,-24} {r.Regularizer,-11} {r.Architecture,-9} {r.Iterations,6} {Percent(r.LastTop1),10} {Percent(r.BestTop1),10} {r.BestIteration,6} {(r.LastNll is { } n ? n.ToString("F4") : "-"),8} {r.Seconds,7:F0}s");
            var groups = RunReport.GroupOverSeeds(rows);
            if (groups.Any(g => g.Runs > 1))
            {
                Console.WriteLine();
                Console.WriteLine($"{"group",-24} {"regularizer",-11} {"runs",4} {"last top-1 mean ± std",22} {"best top-1 mean ± std",22} {"mean time",10}");
                foreach (var g in groups)
                    Console.WriteLine($"{g.Name,-24} {g.Regularizer,-11} {g.Runs,4} {$"{100 * g.MeanLastTop1:F2} ± {100 * g.StdLastTop1:F2}",22} {$"{100 * g.MeanBestTop1:F2} ± {100 * g.StdBestTop1:F2}",22} {g.MeanSeconds,9:F0}s");
            }
            return 0;
        });
        return command;
    }

    private static string Invariant(double? v) => v is { } x ? x.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "";

    private static string Percent(double? v) => v is { } x && !double.IsNaN(x) ? (100 * x).ToString("F2") : "-";
}

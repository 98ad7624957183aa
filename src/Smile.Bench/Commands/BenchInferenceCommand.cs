using System.CommandLine;
using Smile.Cli;

namespace Smile.Bench.Commands;

/// <summary>`smile bench inference`: the eval-mode forward of a ResNet as the module and with BatchNorm folded,
/// interleaved.</summary>
internal static class BenchInferenceCommand
{
    public static Command Create()
    {
        var arch = Flags.Make("model_arch", "Architecture (a ResNet).", "resnet50");
        var size = Flags.Make("image_size", "Input size.", 224);
        var batch = Flags.Make("batch_size", "Batch size.", 16);
        var rounds = Flags.Make("rounds", "Rounds; each times every path once.", 10);
        var command = new Command("inference", "Eval-mode forward of a ResNet two ways, interleaved: the module, and with BatchNorm folded into the convolutions.")
            { arch, size, batch, rounds };
        command.SetAction(parse =>
        {
            string a = Smile.Models.ModelFactory.CanonicalName(parse.GetValue(arch)!);
            int s = parse.GetValue(size), b = parse.GetValue(batch), r = parse.GetValue(rounds);
            Flags.ImageSize(s);
            Flags.Require(b >= 1, "batch_size", "must be at least 1");
            Flags.Require(r >= 1, "rounds", "must be at least 1");
            Console.WriteLine($"{a}, {s}x{s}, batch {b}, fp32, {TorchSharp.torch.get_num_threads()} threads, eval mode, no autograd; {r} interleaved rounds; ms per forward");
            var t = InferenceBenchmark.Run(a, s, b, r);
            foreach (var round in t.Rounds) Console.WriteLine($"  round: module {round[0]:F1}, folded {round[1]:F1}");
            Console.WriteLine($"{"path",-34} {"median ms",10} {"images/s",9} {"vs module",10}");
            foreach (var (name, ms) in new[] { ("module (BatchNorm as its own pass)", t.ModuleMs), ("BatchNorm folded", t.FoldedMs) })
                Console.WriteLine($"{name,-34} {ms,10:F1} {b * 1000 / ms,9:F2} {t.ModuleMs / ms,9:F2}x");
            return 0;
        });
        return command;
    }
}

using System.Diagnostics;
using Smile.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Bench;

/// <summary>Median milliseconds of one eval-mode forward by each path, over interleaved rounds.</summary>
public sealed record InferenceTimings(double ModuleMs, double FoldedMs, IReadOnlyList<double[]> Rounds);

/// <summary>
/// The two ways Smile can run a ResNet's eval-mode forward, timed in one process in turn so that drift hits both
/// alike: the module itself (BatchNorm as a separate pass) and <see cref="FoldedResNet"/> (what evaluation and
/// SMILE's teacher run).
/// </summary>
public static class InferenceBenchmark
{
    public static InferenceTimings Run(string arch, int imageSize, int batchSize, int rounds)
    {
        if (rounds < 1) throw new ArgumentOutOfRangeException(nameof(rounds), rounds, "at least 1 round");
        torch.random.manual_seed(0);
        using var model = ModelFactory.Create(arch, 1000);
        if (model is not ResNet resnet) throw new ModelConfigException($"bench inference compares BatchNorm folding, which Smile does for ResNets only (not {arch})");
        model.eval();
        using var x = randn(batchSize, 3, imageSize, imageSize);
        using var folded = new FoldedResNet(resnet);
        var paths = new Func<ClassifierOutput>[]
        {
            () => { using (no_grad()) return model.call(x); },
            () => folded.Forward(x),
        };
        var all = new List<double[]>();
        for (int round = -1; round < rounds; round++) // round -1 warms every path up
        {
            var ms = new double[paths.Length];
            for (int p = 0; p < paths.Length; p++)
            {
                using (NewDisposeScope())
                {
                    var clock = Stopwatch.StartNew();
                    paths[p]();
                    ms[p] = clock.Elapsed.TotalMilliseconds;
                }
                Smile.Native.NativeGarbage.Release();
            }
            if (round >= 0) all.Add(ms);
        }
        return new InferenceTimings(ProfileTable.Median(all.Select(r => r[0])), ProfileTable.Median(all.Select(r => r[1])), all);
    }
}

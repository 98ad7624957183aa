using System.Globalization;
using System.Text;

namespace Smile.Bench;

/// <summary>The other side of `smile bench profile` (the CLI runs PyTorch in a child process). Each call does the
/// same as its Smile counterpart; null when that side cannot answer (it is then left out from there on).</summary>
public interface IProfilePeer
{
    /// <summary>Iterations 0..n-1 of the SMILE step; mean ms per iteration of each stage, in <see cref="StepStages.Names"/> order.</summary>
    double[]? Steps(int iterations);

    BlockTiming? Block(int index);

    IReadOnlyList<OpTiming>? Ops(string block);
}

/// <summary>Per-round readings of both sides: one array per round, one value per row. Torch is empty when there was no peer.</summary>
public sealed record Readings(IReadOnlyList<string> Rows, List<double[]> Smile, List<double[]> Torch);

/// <summary>What <see cref="ProfileRunner.Blocks"/> measured: forward, backward and eval forward per block, and the
/// operations of one block (<see cref="OpBlock"/>).</summary>
public sealed record BlockReadings(Readings Forward, Readings Backward, Readings Eval, string? OpBlock, Readings? OpForward, Readings? OpBackward);

/// <summary>
/// `smile bench profile`: Smile and the peer alternate, so that the machine's drift hits both. The SMILE step in groups
/// of 10 iterations (one EMA each, as in training), one group of Smile then one of the peer, per round; the blocks one
/// at a time, Smile then the peer for each block, per round; then the same for the operations of one block.
/// </summary>
public static class ProfileRunner
{
    public const int Period = 10;

    public static Readings Steps(string arch, int imageSize, int batchSize, int rounds, IProfilePeer? peer, Action<string>? progress = null)
    {
        var result = new Readings(StepStages.Names, new List<double[]>(), new List<double[]>());
        using var run = new StepProfileRun(arch, imageSize, batchSize);
        run.Run(2); // warm-up: JIT, allocator growth, oneDNN primitives; the peer does the same
        if (peer?.Steps(2) is null) peer = null;
        for (int round = 0; round < rounds; round++)
        {
            result.Smile.Add(run.Run(Period));
            if (peer?.Steps(Period) is double[] theirs) result.Torch.Add(theirs);
            else peer = null;
            progress?.Invoke($"step round {round + 1}/{rounds}: Smile {result.Smile[^1].Sum():F1} ms/iteration" +
                (result.Torch.Count > round ? $", PyTorch {result.Torch[^1].Sum():F1}" : ""));
        }
        return result;
    }

    /// <summary>Every block, then the operations of <paramref name="opBlock"/> (default: the block, the stem or a residual
    /// one, whose forward + backward time ratio Smile / PyTorch is worst; without a peer, Smile's slowest).</summary>
    public static BlockReadings Blocks(string arch, int imageSize, int batchSize, int rounds, IProfilePeer? peer, string? opBlock = null, Action<string>? progress = null)
    {
        using var profile = new BlockProfile(arch, imageSize, batchSize);
        var names = profile.BlockNames;
        if (opBlock is not null && !names.Contains(opBlock))
            throw new ArgumentException($"no block '{opBlock}' in {arch}; blocks: {string.Join(", ", names)}", nameof(opBlock));
        var fwd = new Readings(names, new List<double[]>(), new List<double[]>());
        var bwd = new Readings(names, new List<double[]>(), new List<double[]>());
        var eval = new Readings(names, new List<double[]>(), new List<double[]>());
        for (int round = -1; round < rounds; round++) // round -1 warms both sides up
        {
            var mine = new BlockTiming[names.Count];
            var theirs = new BlockTiming[names.Count];
            for (int i = 0; i < names.Count; i++)
            {
                mine[i] = profile.Measure(i);
                Smile.Native.NativeGarbage.Release(); // between timings, as the trainer does between steps
                if (peer?.Block(i) is BlockTiming t) theirs[i] = t;
                else peer = null;
            }
            if (round < 0) continue;
            Add(fwd, mine, peer is null ? null : theirs, t => t.ForwardMs);
            Add(bwd, mine, peer is null ? null : theirs, t => t.BackwardMs);
            Add(eval, mine, peer is null ? null : theirs, t => t.EvalMs);
            progress?.Invoke($"block round {round + 1}/{rounds}: Smile {mine.Sum(t => t.ForwardMs + t.BackwardMs):F1} ms forward + backward" +
                (peer is null ? "" : $", PyTorch {theirs.Sum(t => t.ForwardMs + t.BackwardMs):F1}"));
        }

        opBlock ??= WorstBlock(fwd, bwd);
        if (opBlock is null) return new BlockReadings(fwd, bwd, eval, null, null, null);
        Readings? opFwd = null, opBwd = null;
        for (int round = -1; round < rounds; round++)
        {
            var mine = profile.MeasureOps(opBlock);
            Smile.Native.NativeGarbage.Release();
            var theirs = peer?.Ops(opBlock);
            if (theirs is not null && !theirs.Select(o => o.Name).SequenceEqual(mine.Select(o => o.Name)))
                throw new InvalidOperationException($"the two sides cut {opBlock} differently: [{string.Join(", ", mine.Select(o => o.Name))}] against [{string.Join(", ", theirs.Select(o => o.Name))}]");
            if (theirs is null) peer = null;
            if (round < 0) continue;
            var rows = mine.Select(o => o.Name).ToList();
            opFwd ??= new Readings(rows, new List<double[]>(), new List<double[]>());
            opBwd ??= new Readings(rows, new List<double[]>(), new List<double[]>());
            opFwd.Smile.Add(mine.Select(o => o.ForwardMs).ToArray());
            opBwd.Smile.Add(mine.Select(o => o.BackwardMs).ToArray());
            if (theirs is not null)
            {
                opFwd.Torch.Add(theirs.Select(o => o.ForwardMs).ToArray());
                opBwd.Torch.Add(theirs.Select(o => o.BackwardMs).ToArray());
            }
        }
        return new BlockReadings(fwd, bwd, eval, opBlock, opFwd, opBwd);
    }

    private static void Add(Readings readings, BlockTiming[] mine, BlockTiming[]? theirs, Func<BlockTiming, double> pick)
    {
        readings.Smile.Add(mine.Select(pick).ToArray());
        if (theirs is not null) readings.Torch.Add(theirs.Select(pick).ToArray());
    }

    /// <summary>The stem or layerN.M block with the worst forward + backward ratio (or, with no PyTorch readings, the slowest).</summary>
    private static string? WorstBlock(Readings fwd, Readings bwd)
    {
        var smile = ProfileTable.Medians(fwd.Smile).Zip(ProfileTable.Medians(bwd.Smile), (f, b) => f + b).ToArray();
        var torch = fwd.Torch.Count > 0 ? ProfileTable.Medians(fwd.Torch).Zip(ProfileTable.Medians(bwd.Torch), (f, b) => f + b).ToArray() : null;
        return Enumerable.Range(0, fwd.Rows.Count)
            .Where(i => fwd.Rows[i] == "stem" || fwd.Rows[i].StartsWith("layer", StringComparison.Ordinal))
            .OrderByDescending(i => torch is null ? smile[i] : smile[i] / torch[i])
            .Select(i => fwd.Rows[i])
            .FirstOrDefault();
    }
}

/// <summary>Tables of medians, Smile against PyTorch, as text lines (time ratio Smile / PyTorch: above 1, Smile is slower).</summary>
public static class ProfileTable
{
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>The median of each row over the rounds.</summary>
    public static double[] Medians(List<double[]> rounds) =>
        rounds.Count == 0 ? [] : Enumerable.Range(0, rounds[0].Length).Select(i => Median(rounds.Select(r => r[i]))).ToArray();

    /// <summary>One line per row with, for each group (e.g. forward, backward), Smile ms, PyTorch ms and their ratio;
    /// a total line. The <paramref name="flagWorst"/> rows with the highest ratio of the first <paramref name="flagGroups"/>
    /// groups' times summed (all groups when 0) end with "&lt;-- worst". Rows for which <paramref name="leaveOutOfTotal"/>
    /// holds are not summed into the total.</summary>
    public static IReadOnlyList<string> Format(string firstColumn, IReadOnlyList<(string Group, Readings Readings)> groups,
        int flagWorst = 0, int flagGroups = 0, Func<string, bool>? leaveOutOfTotal = null)
    {
        var rows = groups[0].Readings.Rows;
        int width = Math.Max(firstColumn.Length, rows.Max(r => r.Length)) + 1;
        var smile = groups.Select(g => Medians(g.Readings.Smile)).ToArray();
        var torch = groups.Select(g => g.Readings.Torch.Count > 0 ? Medians(g.Readings.Torch) : null).ToArray();
        var summed = Enumerable.Range(0, rows.Count).Where(i => leaveOutOfTotal?.Invoke(rows[i]) != true).ToArray();
        double Total(double[] values) => summed.Select(i => values[i]).Where(v => !double.IsNaN(v)).Sum();

        var flagged = new HashSet<int>();
        if (flagWorst > 0 && torch.All(t => t is not null))
        {
            int k = flagGroups > 0 ? flagGroups : groups.Count;
            double Sum(double[][] side, int i) => side.Take(k).Sum(g => double.IsNaN(g[i]) ? 0 : g[i]);
            flagged = Enumerable.Range(0, rows.Count).Where(i => Sum(torch!, i) > 0)
                .OrderByDescending(i => Sum(smile, i) / Sum(torch!, i)).Take(flagWorst).ToHashSet();
        }

        var lines = new List<string>();
        var header = new StringBuilder(firstColumn.PadRight(width));
        foreach (var (group, _) in groups)
            header.Append(CultureInfo.InvariantCulture, $" {group + " Smile",16} {"PyTorch",9} {"ratio",7}");
        lines.Add(header.ToString());
        for (int i = 0; i <= rows.Count; i++)
        {
            bool total = i == rows.Count;
            var line = new StringBuilder((total ? "total" : rows[i]).PadRight(width));
            for (int g = 0; g < groups.Count; g++)
            {
                double s = total ? Total(smile[g]) : smile[g][i];
                double t = torch[g] is double[] tg ? (total ? Total(tg) : tg[i]) : double.NaN;
                line.Append(CultureInfo.InvariantCulture, $" {Ms(s),16} {Ms(t),9} {Ratio(s, t),7}");
            }
            if (flagged.Contains(i)) line.Append("  <-- worst");
            lines.Add(line.ToString().TrimEnd());
        }
        return lines;
    }

    private static string Ms(double ms) => double.IsNaN(ms) ? "-" : ms >= 100 ? ms.ToString("F0", CultureInfo.InvariantCulture) : ms >= 1 ? ms.ToString("F1", CultureInfo.InvariantCulture) : ms.ToString("F2", CultureInfo.InvariantCulture);

    private static string Ratio(double smile, double torch) =>
        double.IsNaN(smile) || double.IsNaN(torch) || torch <= 0 ? "-" : (smile / torch).ToString("F2", CultureInfo.InvariantCulture) + "x";
}

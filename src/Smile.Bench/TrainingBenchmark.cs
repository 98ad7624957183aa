using System.Diagnostics;
using Smile.Models;
using Smile.Methods;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Bench;

/// <summary>Images per second of Smile's l2 step, SMILE step and eval forward, the process's peak resident memory, and
/// the CUDA speed switches line of the workload (Training/CudaSpeed.cs).</summary>
public sealed record StepThroughput(double L2, double Smile, double Eval, double PeakRssMiB, string Switches = "");

/// <summary>
/// The same three measurements as the PyTorch side of `smile bench train` (src/Smile.Bench/bench/torch_step.py), on
/// <see cref="BenchmarkWorkload"/>. The SMILE step is timed over 10 iterations at a time so that the mean-teacher
/// EMA (every 10th iteration) is amortised as in training.
/// </summary>
public static class TrainingBenchmark
{
    /// <param name="graphs">Replay the two training steps from a graph (<see cref="BenchmarkWorkload"/>); the eval forward is
    /// then not timed (NaN).</param>
    /// <param name="speed">The run's speed switches (default: a run's defaults on <paramref name="device"/>).</param>
    public static StepThroughput Run(string arch, int imageSize, int batchSize, int steps, bool foldBatchNorm = true, MixedPrecision? precision = null, Device? device = null,
        bool graphs = false, CudaSpeed? speed = null)
    {
        using var work = new BenchmarkWorkload(arch, imageSize, batchSize, foldBatchNorm, precision, device, speed, graphs: graphs);
        var l2 = Regularizers.Create("l2");
        var smile = Regularizers.Create("smile");
        // On CUDA the kernels run after the call returns: each timed call ends with a synchronisation.
        Action sync = device?.type == DeviceType.CUDA ? () => torch.cuda.synchronize() : () => { };
        // Replayed: the warm-up calls also cover the runner's eager warm-up steps and the capture.
        double l2Rate = Timed(_ => { work.Step(l2, 1); sync(); }, steps, batchSize, warmups: graphs ? StepGraphs.WarmupSteps + 2 : 2);
        double smileRate = Timed(_ => { for (int k = 0; k < 10; k++) work.Step(smile, k); sync(); }, Math.Max(1, steps / 4), batchSize * 10);
        double evalRate = graphs ? double.NaN : Timed(_ => { work.Eval(); sync(); }, steps, batchSize);
        if (graphs && work.Replays == 0) throw new InvalidOperationException("no step was replayed from a graph");
        return new StepThroughput(l2Rate, smileRate, evalRate, ProcessMemory.PeakResidentMiB(), work.SpeedLine);
    }

    /// <summary>Median images/s over <paramref name="samples"/> timed calls after <paramref name="warmups"/> warm-up calls.</summary>
    private static double Timed(Action<int> action, int samples, int imagesPerCall, int warmups = 2)
    {
        for (int w = 0; w < warmups; w++) action(-1); // warm-up: JIT, allocator growth, oneDNN primitive creation
        var seconds = new List<double>();
        for (int i = 0; i < samples; i++)
        {
            var clock = Stopwatch.StartNew();
            action(i);
            seconds.Add(clock.Elapsed.TotalSeconds);
        }
        return imagesPerCall / ProfileTable.Median(seconds);
    }
}

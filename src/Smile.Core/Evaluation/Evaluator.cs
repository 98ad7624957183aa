using System.Diagnostics;
using Smile.Data;
using Smile.Models;
using static TorchSharp.torch;

namespace Smile.Evaluation;

/// <summary>Eval-mode forward over a whole folder, without autograd.</summary>
public static class Evaluator
{
    public static EvalResult Evaluate(ImageClassifier model, BatchLoader loader, Device device, IProgress<int>? progress = null, CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        var metrics = new MetricAccumulator();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            int done = 0;
            foreach (var batch in loader.Batches(cancel: cancel))
            {
                using var scope = NewDisposeScope();
                using (batch)
                {
                    var output = model.call(batch.Images.to(device));
                    metrics.Add(output.Logits, batch.Labels);
                    done += batch.Count;
                }
                progress?.Report(done);
            }
        }
        finally
        {
            model.train(wasTraining);
        }
        return metrics.Result(clock.Elapsed.TotalSeconds);
    }
}

using Serilog;

namespace Smile.Training;

/// <summary>
/// A fine-tuning (or distillation) run: the reference's finetune.py, iteration-based, as a
/// <see cref="FinetuneStrategy"/> on the one <see cref="RunEngine"/>. <paramref name="method"/> is configured by
/// the caller (the registry, Smile.Methods.Regularizers) and stays the caller's.
/// </summary>
public sealed class Trainer(FinetuneOptions options, IRegularizer method, ILogger log, ITrainingMonitor? monitor = null)
{
    public TrainingSummary Run(CancellationToken cancel = default)
    {
        using var strategy = new FinetuneStrategy(options, method, log, monitor);
        var outcome = new RunEngine(strategy, new EngineOptions(options.Resume, options.EarlyStop, options.StopAfter), log).Run(cancel);
        return strategy.Finish(outcome);
    }
}

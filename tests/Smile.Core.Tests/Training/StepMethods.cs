using Smile.Methods;
using Smile.Training;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

/// <summary>The methods whose whole training step the step-wide checks run (the stray-tensor guard, the finalizer
/// watch), each with the optimizer it is run with, and each made ready for a step of a ResNet-18 without a run around it.</summary>
public static class StepMethods
{
    public static TheoryData<string, string> WithOptimizers() => new()
    {
        { "smile", "sgd" }, { "smile", "adam" }, { "l2", "sgd" }, { "mixup", "sgd" }, { "l2sp", "sgd" }, { "ls", "adam" },
        { "bss", "sgd" }, { "rifle", "sgd" }, { "rifle", "adam" }, { "lwf", "sgd" }, { "cotuning", "sgd" }, { "delta", "sgd" },
    };

    /// <summary>The method, with the state a run would give it before its first step (RIFLE's schedule, Co-Tuning's
    /// category relationship, DELTA's channel attention for a ResNet-18).</summary>
    public static IRegularizer Create(string name, int classes, int sourceClasses, Device device)
    {
        var method = Regularizers.Create(name);
        if (method is RifleRegularizer rifle) rifle.SetRun(5, 2); // re-initialises the head before step 1
        if (method is CoTuningRegularizer cotuning) cotuning.UseRelationship(ones(classes, sourceClasses, device: device).DividedBy(sourceClasses));
        if (method is DeltaRegularizer delta) delta.UseAttention([.. new[] { 64, 128, 256, 512 }.Select(c => Enumerable.Repeat(1f / c, c).ToArray())]);
        return method;
    }
}

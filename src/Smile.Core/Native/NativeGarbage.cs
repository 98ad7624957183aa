namespace Smile.Native;

/// <summary>
/// Frees the native objects TorchSharp leaves to the .NET finalizer, once per training or evaluation step.
/// TorchSharp releases a <c>Scalar</c> only in its finalizer, and it makes them itself (<c>Tensor.add(t)</c>
/// is <c>add(t, 1)</c>, so every residual <c>+</c> of a ResNet makes one); dispose scopes do not track them.
/// A training step allocates almost nothing managed, so the GC runs seldom (the first collection came after
/// 17 ResNet-18 steps). Until it does, those few-byte native objects sit inside the big blocks glibc has just
/// freed, split them, and the next step's activations no longer fit: the heap grows by the size of an
/// activation set every step and each step pays for fresh pages. Measured (docs/PERFORMANCE.md, "A change
/// made: draining TorchSharp's finalizer garbage"): ResNet-18 32x32 batch 64 l2 steps took 115-190 ms while
/// the resident set grew 18-27 MiB a step, and 93-109 ms with it flat once a collection had run.
/// </summary>
/// <remarks>SMILE_DRAIN_FINALIZERS=0 turns it off, to measure what it does.</remarks>
public static class NativeGarbage
{
    /// <summary>False when SMILE_DRAIN_FINALIZERS=0 is set.</summary>
    public static bool Enabled { get; } = Environment.GetEnvironmentVariable("SMILE_DRAIN_FINALIZERS") != "0";

    /// <summary>A gen-0 collection and a wait for its finalizers (the end-of-step stage of `bench profile` went from
    /// 0.45 to 1.8 ms at ResNet-50 with it, 0.06% of the step).</summary>
    public static void Release()
    {
        if (!Enabled) return;
        GC.Collect(0, GCCollectionMode.Forced, blocking: true);
        GC.WaitForPendingFinalizers();
    }
}

using System.Runtime.CompilerServices;
using Smile.Diagnostics;

namespace Smile.Tests;

/// <summary>Every `smile` the CLI tests start, directly or through a script, a sweep or a Slurm job (children inherit
/// the environment), runs under the finalizer watch: it exits 70 instead of 0 if a TorchSharp Scalar reached the
/// finalizer, and <see cref="SmileProcess"/> also fails the test on its report line (docs/DESIGN.md, "Scalars").</summary>
internal static class WatchEverySmile
{
#pragma warning disable CA2255 // a test assembly's process-wide setting, before any test starts a child
    [ModuleInitializer]
    internal static void Start() => Environment.SetEnvironmentVariable(FinalizerWatch.Variable, "1");
#pragma warning restore CA2255
}

using System.Runtime.CompilerServices;
using Smile.Diagnostics;

namespace Smile.Tests;

/// <summary>Every `smile` the CLI tests start, directly or through a script, a sweep or a Slurm job (children inherit
/// the environment), runs under the finalizer watch (docs/DESIGN.md, "Scalars"): one that would exit 0 exits 70 if a
/// TorchSharp Scalar reached the finalizer. Its report goes to /dev/null, so no test sees it on stderr; the runs
/// <see cref="SmileProcess"/> starts get a file of their own, read after each run.</summary>
internal static class WatchEverySmile
{
#pragma warning disable CA2255 // a test assembly's process-wide setting, before any test starts a child
    [ModuleInitializer]
    internal static void Start() =>
        Environment.SetEnvironmentVariable(FinalizerWatch.Variable, "/dev/null"); // the exit code is the check here
#pragma warning restore CA2255
}

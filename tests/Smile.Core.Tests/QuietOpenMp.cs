using System.Runtime.CompilerServices;
using Smile.Native;

namespace Smile.Tests;

/// <summary>The test process's LibTorch waits between parallel regions as a `smile` process does (Native/ThreadPolicy.cs:
/// spin briefly, then sleep), before any test loads LibTorch. With GNU OpenMP's default its workers spin for
/// milliseconds after every operation, on a 2-core machine where the CLI tests' `smile` children run at the same time
/// (`dotnet test` runs both test projects at once). Set with setenv, so the children this process starts (Debian's
/// python3 for the parity tests) keep their own defaults.</summary>
internal static class QuietOpenMp
{
#pragma warning disable CA2255 // a test assembly's process-wide setting, before any test loads LibTorch
    [ModuleInitializer]
    internal static void Apply() => ThreadPolicy.Apply();
#pragma warning restore CA2255
}

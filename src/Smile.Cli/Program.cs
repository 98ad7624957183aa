// The `smile` executable: thin verbs over Smile.Core. Flags keep the reference's snake_case
// names (a reference command line pastes as it is) with kebab-case aliases.
using Smile.Diagnostics;

Smile.Native.AllocatorPolicy.Apply(); // before the first tensor
Smile.Native.ThreadPolicy.Apply();    // before LibTorch (and its OpenMP) loads
// A developer's check (the CLI tests set it for every smile they start, scripts' included): at exit, the TorchSharp
// objects that reached the finalizer instead of being disposed, and exit 70 when a Scalar did (a use-after-free
// hazard: Core/Diagnostics/FinalizerWatch.cs, docs/DESIGN.md "Scalars").
using var watch = Environment.GetEnvironmentVariable(FinalizerWatch.Variable) == "1" ? new FinalizerWatch() : null;
int code = Smile.Cli.SmileCommandLine.Run(args);
if (watch is null) return code;
var finalized = watch.Settle();
Console.Error.WriteLine(FinalizerWatch.ReportPrefix + FinalizerWatch.Describe(finalized));
return code == 0 && finalized.GetValueOrDefault(nameof(TorchSharp.Scalar)) > 0 ? FinalizerWatch.ScalarsFinalizedExitCode : code;

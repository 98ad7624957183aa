// The `smile` executable: thin verbs over Smile.Core. Flags keep the reference's snake_case
// names (a reference command line pastes as it is) with kebab-case aliases.
using Smile.Diagnostics;

Smile.Native.AllocatorPolicy.Apply(); // before the first tensor
Smile.Native.ThreadPolicy.Apply();    // before LibTorch (and its OpenMP) loads
// A developer's check (the CLI tests set it for every smile they start, scripts' included): SMILE_WATCH_FINALIZERS=FILE
// appends to FILE, at exit, the TorchSharp objects that reached the finalizer instead of being disposed, and a run
// that would exit 0 exits 70 when a Scalar did (a use-after-free hazard: docs/DESIGN.md, "Scalars").
var report = Environment.GetEnvironmentVariable(FinalizerWatch.Variable);
using var watch = string.IsNullOrEmpty(report) ? null : new FinalizerWatch();
int code = Smile.Cli.SmileCommandLine.Run(args);
if (watch is null) return code;
var finalized = watch.Settle();
File.AppendAllText(report!, FinalizerWatch.ReportPrefix + FinalizerWatch.Describe(finalized) + "\n");
long scalars = finalized.GetValueOrDefault(nameof(TorchSharp.Scalar));
if (code != 0 || scalars == 0) return code;
Console.Error.WriteLine($"smile: {scalars} TorchSharp Scalars reached the finalizer ({FinalizerWatch.Variable}; docs/DESIGN.md, \"Scalars\")");
return FinalizerWatch.ScalarsFinalizedExitCode;

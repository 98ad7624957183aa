// The `smile` executable: thin verbs over Smile.Core. Flags keep the reference's snake_case
// names (a reference command line pastes as it is) with kebab-case aliases.
Smile.Native.AllocatorPolicy.Apply(); // before the first tensor
Smile.Native.ThreadPolicy.Apply();    // before LibTorch (and its OpenMP) loads
// A developer's check (the CLI tests set it on every run): at exit, the TorchSharp objects that reached the
// finalizer instead of being disposed (Core/Diagnostics/FinalizerWatch.cs; docs/DESIGN.md, "Scalars").
using var watch = Environment.GetEnvironmentVariable(Smile.Diagnostics.FinalizerWatch.Variable) == "1" ? new Smile.Diagnostics.FinalizerWatch() : null;
int code = Smile.Cli.SmileCommandLine.Run(args);
if (watch is not null) Console.Error.WriteLine(Smile.Diagnostics.FinalizerWatch.ReportPrefix + Smile.Diagnostics.FinalizerWatch.Describe(watch.Settle()));
return code;

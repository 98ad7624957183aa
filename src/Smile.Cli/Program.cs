// The `smile` executable: thin verbs over Smile.Core. Flags keep the reference's snake_case
// names (a reference command line pastes as it is) with kebab-case aliases.
Smile.Native.AllocatorPolicy.Apply(); // before the first tensor
Smile.Native.ThreadPolicy.Apply();    // before LibTorch (and its OpenMP) loads
using var watch = Smile.Cli.FinalizerReport.Start(); // SMILE_WATCH_FINALIZERS, a developer's check (FinalizerReport.cs)
return Smile.Cli.FinalizerReport.Finish(watch, Smile.Cli.SmileCommandLine.Run(args));

// The `smile` executable: thin verbs over Smile.Core. Flags keep the reference's snake_case
// names (a reference command line pastes as it is) with kebab-case aliases.
Smile.Native.AllocatorPolicy.Apply(); // before the first tensor
Smile.Native.ThreadPolicy.Apply();    // before LibTorch (and its OpenMP) loads
return Smile.Cli.SmileCommandLine.Run(args);

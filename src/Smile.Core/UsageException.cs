namespace Smile;

/// <summary>
/// A setting the user gave (a flag of `smile` or of `smile bench`) that cannot be used, reported as one line that
/// names it. It lives here, beside <see cref="Data.DataException"/>, because both Smile.Cli and Smile.Bench define
/// verbs and the `smile` executable turns it into one line and exit code 2 whichever of them threw it.
/// </summary>
public sealed class UsageException(string message) : Exception(message);

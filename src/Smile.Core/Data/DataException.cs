namespace Smile.Data;

/// <summary>
/// A problem with the user's data (a dataset folder, an image file) reported as one line that names the
/// folder or file, so the CLI can print it as is instead of a stack trace.
/// </summary>
public sealed class DataException(string message) : Exception(message);

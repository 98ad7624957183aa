namespace Smile.Weights;

/// <summary>
/// A problem with a weight file (or with matching its tensors to a model), reported to the user as one
/// line, "&lt;path&gt;: &lt;what is wrong&gt;", so that a CLI can print <see cref="Exception.Message"/> as is.
/// </summary>
public sealed class WeightFileException : Exception
{
    /// <summary>The file (or, for state-dict matching, the source name) the problem is about.</summary>
    public string FilePath { get; }

    /// <summary>The reason without the path prefix.</summary>
    public string Reason { get; }

    public WeightFileException(string filePath, string reason, Exception? innerException = null)
        : base($"{filePath}: {OneLine(reason)}", innerException)
    {
        FilePath = filePath;
        Reason = OneLine(reason);
    }

    /// <summary>Messages of wrapped exceptions (LibTorch's in particular) can span many lines; the user
    /// gets the first one, the rest stays in <see cref="Exception.InnerException"/>.</summary>
    internal static string OneLine(string text)
    {
        var trimmed = text.Trim();
        var newline = trimmed.IndexOfAny(['\r', '\n']);
        var line = newline < 0 ? trimmed : trimmed[..newline].TrimEnd();
        // Names quoted from a damaged file may hold control characters; they must not garble a terminal.
        return string.Concat(line.Select(c => char.IsControl(c) ? '?' : c));
    }
}

namespace Smile.Data;

/// <summary>A file that appears whole or not at all: a reader (an image viewer refreshing a chart while training
/// goes on, a trainer reading a weights file) never sees half of one.</summary>
internal static class AtomicFile
{
    /// <summary>Temp file beside the target, then a rename (atomic within one file system); the folder is created
    /// when missing, and no temp file is left behind when the write fails.</summary>
    public static void WriteAllBytes(string path, byte[] bytes)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = $"{full}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}

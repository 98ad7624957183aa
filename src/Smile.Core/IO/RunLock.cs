namespace Smile.IO;

/// <summary>Another process holds the run's lock; the message names the run, its folder and the process.</summary>
public sealed class RunLockedException(string message) : Exception(message);

/// <summary>
/// One run name in one folder at a time: two processes writing the same checkpoints and log would each
/// overwrite the other's files and both "succeed". The lock is the operating system's (an exclusive lock on
/// "{run}.lock", which .NET takes for FileShare.None), so a killed process releases it; the holder's process id
/// is written beside it ("{run}.lock.pid") so that the refused process can name it.
/// </summary>
public sealed class RunLock : IDisposable
{
    private readonly FileStream stream;
    private readonly string pidPath;

    private RunLock(FileStream stream, string pidPath)
    {
        this.stream = stream;
        this.pidPath = pidPath;
    }

    /// <summary>Takes the lock of run <paramref name="runName"/> in <paramref name="folder"/> (created when missing).</summary>
    /// <exception cref="RunLockedException">Another process holds it.</exception>
    /// <exception cref="UnauthorizedAccessException">The folder cannot be written.</exception>
    public static RunLock Acquire(string folder, string runName)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, runName + ".lock");
        var pidPath = path + ".pid";
        try
        {
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            File.WriteAllText(pidPath, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return new RunLock(stream, pidPath);
        }
        catch (IOException) when (File.Exists(path))
        {
            string holder = File.Exists(pidPath) ? File.ReadAllText(pidPath).Trim() : "unknown";
            throw new RunLockedException($"{path}: run '{runName}' in {folder} is in use by another process (pid {holder}); " +
                "wait for it to finish, or give another name");
        }
    }

    public void Dispose()
    {
        try { File.Delete(pidPath); } catch (IOException) { }
        stream.Dispose();
    }
}

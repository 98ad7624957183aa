using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Smile.IO;

/// <summary>
/// A file that appears whole or not at all: a reader (an image viewer refreshing a chart while training goes on,
/// a trainer reading a weights file) never sees half of one, and a crash leaves the old file or the new one.
/// Every write goes to a temporary "&lt;name&gt;.tmp-&lt;pid&gt;-&lt;random&gt;" beside the target (the same file
/// system, so the final rename is atomic), which a failed write removes. A killed process cannot remove its own:
/// <see cref="RemoveStaleTemporaries"/> does, at the start of a later run.
/// </summary>
public static partial class AtomicFile
{
    private const string Marker = ".tmp-";

    /// <summary>How old another process's temporary must be before it counts as abandoned even though a process
    /// with its id is alive (ids are reused).</summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromHours(1);

    /// <summary>Writes <paramref name="bytes"/>; the folder is created when missing.</summary>
    public static void WriteAllBytes(string path, byte[] bytes)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        Write(path, stream => stream.Write(bytes));
    }

    /// <summary>Writes what <paramref name="write"/> puts in the stream. With <paramref name="flushToDisk"/> the
    /// data reaches the disk (fsync) before the rename, so a power cut after it cannot leave an empty file under
    /// the final name. The folder must exist.</summary>
    public static void Write(string path, Action<FileStream> write, bool flushToDisk = false, int bufferSize = 4096)
    {
        Replace(path, temporary =>
        {
            using var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize);
            write(file);
            file.Flush(flushToDisk);
        });
    }

    /// <summary>Lets <paramref name="produce"/> create the temporary file at the path it is given (by copying,
    /// hard-linking, writing), then renames it over <paramref name="path"/>; the temporary is removed if anything fails.</summary>
    public static void Replace(string path, Action<string> produce)
    {
        var full = Path.GetFullPath(path);
        var temporary = TemporaryName(full);
        try
        {
            produce(temporary);
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            try { File.Delete(temporary); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>A fresh temporary name for <paramref name="path"/>: same folder, this process's id, 12 random hex digits.</summary>
    public static string TemporaryName(string path) =>
        $"{path}{Marker}{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{Convert.ToHexString(RandomNumberGenerator.GetBytes(6)).ToLowerInvariant()}";

    /// <summary>True for a name this class gives its temporaries (with or without a folder).</summary>
    public static bool IsTemporary(string path) => TemporaryPattern().IsMatch(Path.GetFileName(path));

    /// <summary>
    /// Deletes the temporaries left in <paramref name="folder"/> (not its subfolders) by writes that never finished:
    /// those whose process is gone, and those of another process older than <see cref="StaleAfter"/>. This
    /// process's own are kept (a write may be under way on another thread), as is every other file. Temporaries
    /// named before process ids were part of the name count by age alone. Returns the paths deleted.
    /// </summary>
    public static IReadOnlyList<string> RemoveStaleTemporaries(string folder, TimeSpan? staleAfter = null)
    {
        var removed = new List<string>();
        if (!Directory.Exists(folder)) return removed;
        var limit = staleAfter ?? StaleAfter;
        foreach (var file in Directory.EnumerateFiles(folder, "*" + Marker + "*"))
        {
            var match = TemporaryPattern().Match(Path.GetFileName(file));
            if (!match.Success) continue;
            int? owner = match.Groups["pid"].Success && int.TryParse(match.Groups["pid"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
            if (owner == Environment.ProcessId) continue;
            bool old;
            try { old = DateTime.UtcNow - File.GetLastWriteTimeUtc(file) > limit; }
            catch (IOException) { continue; }
            if (!old && (owner is null || IsAlive(owner.Value))) continue;
            try
            {
                File.Delete(file);
                removed.Add(file);
            }
            catch (IOException) { } // gone meanwhile, or in use: a later run tries again
            catch (UnauthorizedAccessException) { }
        }
        return removed;
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException) { return false; } // no such process
        catch (InvalidOperationException) { return false; }
    }

    // "<name>.tmp-<pid>-<12 hex>"; "<name>.tmp-<12 hex>" is what SafetensorsFile wrote before the id was added.
    [GeneratedRegex(@"\.tmp-(?:(?<pid>[0-9]{1,10})-)?[0-9a-f]{12}$", RegexOptions.CultureInvariant)]
    private static partial Regex TemporaryPattern();
}

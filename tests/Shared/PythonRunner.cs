using System.Diagnostics;

namespace Smile.Tests;

/// <summary>
/// Runs a script of tests/Smile.Core.Tests/python/ with Debian's Python, PyTorch and scikit-learn (/usr/bin/python3, not
/// whatever python3 is first on PATH): the independent reference the tests compare Smile against.
/// A missing interpreter or module fails the test with the fix (scripts/install-deps.sh); it never skips.
/// </summary>
public static class PythonRunner
{
    public const string Interpreter = "/usr/bin/python3";
    private const string Fix = "run scripts/install-deps.sh to install Debian's PyTorch, torchvision, Pillow, SciPy and scikit-learn";

    /// <summary>Runs `/usr/bin/python3 &lt;test output&gt;/python/&lt;script&gt; args...`; returns stdout,
    /// throws with stderr when the exit code is not 0.</summary>
    public static string Run(string scriptFileName, params string[] args)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "python", scriptFileName);
        if (!File.Exists(script))
            throw new FileNotFoundException($"test script {script} is missing (is it under tests/Smile.Core.Tests/python/?)", script);
        return RunScript(script, args);
    }

    /// <summary>Runs `/usr/bin/python3 &lt;script&gt; args...` for a script anywhere (a tool of scripts/dev/); as <see cref="Run"/>.</summary>
    public static string RunScript(string script, params string[] args)
    {
        if (!File.Exists(Interpreter))
            throw new InvalidOperationException($"{Interpreter} not found: {Fix}");
        string scriptFileName = Path.GetFileName(script);

        var start = new ProcessStartInfo(Interpreter) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {Interpreter}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{scriptFileName} did not finish in 10 minutes");
        }
        if (process.ExitCode != 0)
        {
            var error = stderr.Result.Trim();
            var hint = error.Contains("ModuleNotFoundError") || error.Contains("No module named") ? $"\n{Fix}" : "";
            throw new InvalidOperationException($"{Interpreter} {scriptFileName} failed (exit {process.ExitCode}):\n{error}{hint}");
        }
        return stdout.Result;
    }
}

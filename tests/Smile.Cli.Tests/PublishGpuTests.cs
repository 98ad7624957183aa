using System.Diagnostics;

namespace Smile.Tests.Cli;

/// <summary>
/// The GPU tarball (scripts/publish-gpu.sh), checked on a CPU machine by scripts/check-publish-gpu.sh: one publish, then
/// its contents (no LibTorch inside), the launcher's refusals (one line, exit code 2) and real runs on LibTorch for
/// CPU. Slow (a self-contained publish: one to two minutes on 2 cores, less when artifacts/publish-gpu/ is left from a
/// previous run), so it can be run alone: dotnet test --filter Category=PublishGpu.
/// </summary>
[Trait("Category", "PublishGpu")]
public sealed class PublishGpuTests
{
    // Every check the script makes; a check it silently stopped making would fail here.
    private static readonly string[] Checks =
    {
        "tarball-name", "no-libtorch-inside", "contents", "libtorch-folder-empty", "libtorch-folder-missing", "no-python3",
        "python3-without-torch", "debian-pytorch-too-old", "symbols-unresolved", "version-too-old", "version-checked",
        "version-newer-symbols-resolve", "python3-torch-found", "info-on-nuget-libtorch",
    };

    [Fact]
    public async Task TheTarballHoldsNoLibTorchAndItsLauncherChecksThePyTorchItFinds()
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = RepoRoot.Path };
        start.ArgumentList.Add(Path.Combine(RepoRoot.Path, "scripts", "check-publish-gpu.sh"));
        // The test host's MSBuild variables point a nested `dotnet publish` at the test run's build; it needs its own.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(name);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        try { await process.WaitForExitAsync(limit.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("scripts/check-publish-gpu.sh did not finish in 10 minutes");
        }
        string output = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, output);
        foreach (var check in Checks)
            Assert.True(output.Contains($"ok: {check}\n"), $"no 'ok: {check}' in:\n{output}");
        Assert.Contains($"{Checks.Length} ok, 0 failed", output);
    }
}

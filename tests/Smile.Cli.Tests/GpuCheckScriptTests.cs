using System.Diagnostics;

namespace Smile.Tests.Cli;

/// <summary>scripts/gpu-check.sh in its CPU mode, so that the one-call GPU check cannot rot before a GPU is at hand:
/// it must run every step, pass its parity checks against Debian's PyTorch, and print its table.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class GpuCheckScriptTests
{
    [Fact]
    public async Task TheGpuCheckRunsOnTheCpuAndItsParityPasses()
    {
        var outDir = Directory.CreateTempSubdirectory("smile-gpu-check-").FullName;
        try
        {
            // The smile built beside the tests, as SmileProcess runs it.
            string smile = Path.Combine(outDir, "smile");
            File.WriteAllText(smile, $"#!/bin/sh\nexec dotnet \"{Path.Combine(AppContext.BaseDirectory, "smile.dll")}\" \"$@\"\n");
            File.SetUnixFileMode(smile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoRoot.Path };
            foreach (var a in new[] { Path.Combine(RepoRoot.Path, "scripts", "gpu-check.sh"), "--device", "cpu", "--smile", smile, "--out", Path.Combine(outDir, "check") })
                start.ArgumentList.Add(a);
            using var process = Process.Start(start)!;
            var stderrTask = process.StandardError.ReadToEndAsync();
            string stdout = await process.StandardOutput.ReadToEndAsync();
            string stderr = await stderrTask;
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{stdout}\n{stderr}");
            Assert.Contains("| check | device | figure | limit | result |", stdout);
            Assert.Contains("| resnet18 fp32 eval logits | cpu |", stdout);
            Assert.Contains("| resnet18 fp32 eval folded logits | cpu |", stdout);
            Assert.Contains("| resnet18 bf16 eval logits | cpu |", stdout);
            Assert.Contains("finetune smile, bf16: done: 3 iterations", stdout);
            Assert.Contains("smile step images/s, fp32", stdout);
            Assert.DoesNotContain("FAIL", stdout);
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }
}

using System.Diagnostics;
using Smile.Weights;

namespace Smile.Tests.Cli;

/// <summary>scripts/gpu-check.sh in its CPU mode, so that the one-call GPU check cannot rot before a GPU is at hand:
/// it must run every step, pass its parity checks against Debian's PyTorch (the eval logits and two SMILE training
/// steps), and print its table; the step comparison fails on a planted difference and on a missing tensor.</summary>
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
            Assert.Matches(@"\| smile step loss terms and totals \(10 tensors, worst [^)]+\) \| cpu \| \S+ \| 1e-05 \| ok \|", stdout);
            Assert.Matches(@"\| smile step student after each step \(\d+ tensors, worst [^)]+\) \| cpu \| \S+ \| 1e-05 \| ok \|", stdout);
            Assert.Matches(@"\| smile step mean teacher after the last step \(\d+ tensors, worst [^)]+\) \| cpu \| \S+ \| 1e-05 \| ok \|", stdout);
            Assert.DoesNotContain("FAIL", stdout);

            // The step comparison can fail: one weight moved by 1e-4 of its scale, and one tensor left out.
            string check = Path.Combine(outDir, "check");
            var planted = Path.Combine(outDir, "planted.safetensors");
            var smileSide = SafetensorsFile.Read(Path.Combine(check, "step-smile.safetensors"));
            using (var scope = TorchSharp.torch.NewDisposeScope())
            {
                var w = smileSide["it1.student.layer2.0.conv1.weight"];
                smileSide["it1.student.layer2.0.conv1.weight"] = w + 1e-4 * w.abs().max();
                SafetensorsFile.Write(planted, smileSide);
                smileSide.Remove("teacher.layer1.0.bn1.weight");
                SafetensorsFile.Write(planted + ".missing", smileSide);
            }
            var reference = Path.Combine(check, "step-reference", "smile_distinct.safetensors");
            var (exit, rows) = Compare(reference, planted);
            Assert.Equal(1, exit);
            Assert.Matches(@"\| smile step student after each step \(\d+ tensors, worst it1\.student\.layer2\.0\.conv1\.weight\) \| cpu \| 1\.0\de-04 \| 1e-05 \| FAIL \|", rows);
            (exit, rows) = Compare(reference, planted + ".missing");
            Assert.Equal(1, exit);
            Assert.Contains("tensors on one side only (e.g. teacher.layer1.0.bn1.weight)", rows);
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    private static (int Exit, string Stdout) Compare(string reference, string smileSide)
    {
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoRoot.Path };
        foreach (var a in new[] { "scripts/gpu_check.py", "step", reference, smileSide, "cpu", "1e-5" }) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }
}

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
            var (exitCode, stdout, stderr) = await Script([Path.Combine(RepoRoot.Path, "scripts", "gpu-check.sh"), "--device", "cpu", "--smile", Launcher(outDir), "--out", Path.Combine(outDir, "check")]);
            Assert.True(exitCode == 0, $"exit {exitCode}\n{stdout}\n{stderr}");
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
            foreach (var size in new[] { "500x375 (CUB)", "1000x700 (Cars)", "2000x1300 (Aircraft)" })
                Assert.Contains($"| loader images/s, {size} ", stdout);
            // The fine-tune runs SMILE steps (SMILE's reference-length plain tail would make every step of it l2).
            Assert.Contains("] smile loss", File.ReadAllText(Path.Combine(outDir, "check", "finetune-bf16.log")));

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

    /// <summary>scripts/dev/gpu-session.sh, the one call of a GPU session, in its CPU mode: every part runs (none left
    /// out for time), SMILE steps in the end-to-end fine-tune, and what it hands back is there.</summary>
    [Fact]
    public async Task TheGpuSessionScriptRunsEveryPartOnTheCpu()
    {
        var outDir = Directory.CreateTempSubdirectory("smile-gpu-session-").FullName;
        try
        {
            // Debian's python3 (torch, torchvision, Pillow) first on PATH, as the GPU machine's python3 is.
            var (exitCode, stdout, stderr) = await Script([Path.Combine(RepoRoot.Path, "scripts", "dev", "gpu-session.sh"), Launcher(outDir), Path.Combine(outDir, "out"), "cpu", "900"],
                "/usr/bin:" + Environment.GetEnvironmentVariable("PATH"));
            Assert.True(exitCode == 0, $"exit {exitCode}\n{stdout}\n{stderr}");
            string log = File.ReadAllText(Path.Combine(outDir, "out", "session.log"));
            foreach (var part in new[] { "info", "info-bind-now", "gpu-check", "bench-train-big", "make-jpegs", "torch-dataloader", "init-e2e", "finetune-e2e", "bench-train-48-rounds" })
                Assert.Contains($"END {part} rc=0", log);
            Assert.DoesNotContain("SKIPPED", log);
            Assert.Contains("\"dataloader_images_per_s\"", log);
            Assert.Contains("] smile loss", log); // --plain_iters 0: the end-to-end run times SMILE steps
            Assert.Contains("| resnet18 fp32 eval logits | cpu |", File.ReadAllText(Path.Combine(outDir, "out", "gpu-check.md")));
            Assert.True(new FileInfo(Path.Combine(outDir, "out", "logs.tgz")).Length > 0);
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    /// <summary>A launcher in <paramref name="dir"/> for the smile built beside the tests, as SmileProcess runs it.</summary>
    private static string Launcher(string dir)
    {
        string smile = Path.Combine(dir, "smile");
        File.WriteAllText(smile, $"#!/bin/sh\nexec dotnet \"{Path.Combine(AppContext.BaseDirectory, "smile.dll")}\" \"$@\"\n");
        File.SetUnixFileMode(smile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return smile;
    }

    /// <summary>bash ARGS in the repository's root (with <paramref name="path"/> as PATH when given).</summary>
    private static async Task<(int Exit, string Stdout, string Stderr)> Script(string[] args, string? path = null)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoRoot.Path };
        if (path is not null) start.Environment["PATH"] = path;
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, stdout, await stderr);
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

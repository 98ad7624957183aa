using System.Diagnostics;
using Smile.Weights;

namespace Smile.Tests.Cli;

/// <summary>scripts/dev/gpu-session.sh, the one call of a GPU session, in its CPU mode, and scripts/gpu-check.sh
/// inside it, so that neither can rot before a GPU is at hand (one run of both, to keep the test suite short). The
/// session must run every part (none left out), SMILE steps in its end-to-end fine-tune, and hand back its files.
/// The check must run every step, pass its parity checks against Debian's PyTorch (the eval logits and two SMILE
/// training steps) and print its table; its step comparison fails on a planted difference and on a missing tensor.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class GpuCheckScriptTests
{
    [Fact]
    public async Task TheGpuSessionAndItsGpuCheckRunOnTheCpuAndTheParityPasses()
    {
        var outDir = Directory.CreateTempSubdirectory("smile-gpu-session-").FullName;
        try
        {
            // Debian's python3 (torch, torchvision, Pillow) first on PATH, as the GPU machine's python3 is.
            string work = Path.Combine(outDir, "work");
            var (exitCode, stdout, stderr) = await Script([Path.Combine(RepoRoot.Path, "scripts", "dev", "gpu-session.sh"), Launcher(outDir), Path.Combine(outDir, "out"), "cpu", "900"],
                "/usr/bin:" + Environment.GetEnvironmentVariable("PATH"), work);
            Assert.True(exitCode == 0, $"exit {exitCode}\n{stdout}\n{stderr}");
            string log = File.ReadAllText(Path.Combine(outDir, "out", "session.log"));
            foreach (var part in new[] { "info", "info-bind-now", "gpu-check", "bench-train-big", "make-jpegs", "torch-dataloader", "init-e2e", "finetune-e2e", "finetune-e2e-eager", "finetune-e2e-workers-1", "bench-train-48-rounds" })
                Assert.True(log.Contains($"END {part} rc=0", StringComparison.Ordinal), $"part {part} did not end with rc=0:\n{log}");
            Assert.DoesNotContain("SKIPPED", log);
            Assert.Contains("\"dataloader_images_per_s\"", log);
            Assert.Contains("] smile loss", File.ReadAllText(Path.Combine(work, "finetune-e2e.log"))); // --plain_iters 0: SMILE steps
            Assert.True(new FileInfo(Path.Combine(outDir, "out", "logs.tgz")).Length > 0);

            // The GPU check, as the session ran it (its output is the part's log; its files under work/gpu-check).
            string check = Path.Combine(work, "gpu-check");
            string table = File.ReadAllText(Path.Combine(work, "gpu-check.log"));
            Assert.Equal(table[table.IndexOf("| check |", StringComparison.Ordinal)..].Split("\nlogs in")[0].Trim(), File.ReadAllText(Path.Combine(outDir, "out", "gpu-check.md")).Split("\nlogs in")[0].Trim());
            Assert.Contains("| check | device | figure | limit | result |", table);
            Assert.Contains("| resnet18 fp32 eval logits | cpu |", table);
            Assert.Contains("| resnet18 fp32 eval folded logits | cpu |", table);
            Assert.Contains("| resnet18 bf16 eval logits | cpu |", table);
            Assert.Contains("finetune smile, bf16: done: 3 iterations", table);
            Assert.Contains("smile step images/s, fp32", table);
            Assert.Matches(@"\| smile step loss terms and totals \(10 tensors, worst [^)]+\) \| cpu \| \S+ \| 1e-05 \| ok \|", table);
            Assert.Matches(@"\| smile step student after each step \(\d+ tensors, worst [^)]+\) \| cpu \| \S+ \| 1e-05 \| ok \|", table);
            Assert.Matches(@"\| smile step mean teacher after the last step \(\d+ tensors, worst [^)]+\) \| cpu \| \S+ \| 1e-05 \| ok \|", table);
            Assert.Matches(@"\| SMILE steps replayed from a graph vs eager: max \|difference\| 0\.00E\+000, allowed 0\.00E\+000 \(weights' scale [^)]+\): PASS \| cpu \| \| \| ok \|", table);
            Assert.DoesNotContain("FAIL", table);
            foreach (var size in new[] { "500x375 (CUB)", "1000x700 (Cars)", "2000x1300 (Aircraft)" })
                Assert.Contains($"| loader images/s, {size} ", table);
            // The check's fine-tune runs SMILE steps (SMILE's reference-length plain tail would make every step of it l2).
            Assert.Contains("] smile loss", File.ReadAllText(Path.Combine(check, "finetune-bf16.log")));

            // The step comparison can fail: one weight moved by 1e-4 of its scale, and one tensor left out.
            var planted = Path.Combine(outDir, "planted.safetensors");
            var smileSide = SafetensorsFile.Read(Path.Combine(check, "step-smile.safetensors"));
            using (var scope = TorchSharp.torch.NewDisposeScope())
            {
                var w = smileSide["it1.student.layer2.0.conv1.weight"];
                smileSide["it1.student.layer2.0.conv1.weight"] = w.Plus(w.abs().max().Times(1e-4));
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

    /// <summary>A launcher in <paramref name="dir"/> for the smile built beside the tests, as SmileProcess runs it.</summary>
    private static string Launcher(string dir)
    {
        string smile = Path.Combine(dir, "smile");
        File.WriteAllText(smile, $"#!/bin/sh\nexec dotnet \"{Path.Combine(AppContext.BaseDirectory, "smile.dll")}\" \"$@\"\n");
        File.SetUnixFileMode(smile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return smile;
    }

    /// <summary>bash ARGS in the repository's root, with <paramref name="path"/> as PATH and the session's parts' files in
    /// <paramref name="work"/>.</summary>
    private static async Task<(int Exit, string Stdout, string Stderr)> Script(string[] args, string path, string work)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoRoot.Path };
        start.Environment["PATH"] = path;
        start.Environment["GPU_SESSION_WORK"] = work;
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

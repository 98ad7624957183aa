namespace Smile.Tests.Cli;

/// <summary>`smile info` names the LibTorch folder the process actually loaded, and lists CUDA devices only when CUDA is
/// available (on a CPU machine: none).</summary>
public class InfoLibTorchCliTests
{
    [Fact]
    public void InfoNamesTheLoadedLibTorchFolderAndNoDeviceWithoutCuda()
    {
        var r = SmileProcess.Run("info");
        Assert.True(r.ExitCode == 0, r.Describe() + r.Stderr);
        var path = System.Text.RegularExpressions.Regex.Match(r.Stdout, @"(?m)^LibTorch path  (/\S+)");
        Assert.True(path.Success, r.Stdout);
        string folder = path.Groups[1].Value;
        Assert.True(File.Exists(Path.Combine(folder, "libtorch_cpu.so")), $"{folder} holds no libtorch_cpu.so");
        Assert.Contains($"native         {Path.Combine(folder, "libtorch_cpu.so")}", r.Stdout); // the one in /proc/self/maps
        if (r.Stdout.Contains("CUDA           not available"))
            Assert.DoesNotContain("CUDA device", r.Stdout);
        else
            Assert.Matches(@"(?m)^CUDA device", r.Stdout);
    }
}

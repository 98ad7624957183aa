using Smile.Diagnostics;

namespace Smile.Tests.Diagnostics;

/// <summary>Where `smile info` says LibTorch came from: the folder of the loaded libtorch_cpu.so and the PyTorch version
/// recorded beside it (pip's torch/version.py, a LibTorch archive's build-version), on made-up folders.</summary>
public sealed class LibTorchLocationTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("smile-libtorch-").FullName;
    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Lib(string layout)
    {
        string lib = Path.Combine(_root, layout, "lib");
        Directory.CreateDirectory(lib);
        return lib;
    }

    [Fact]
    public void APipInstallsFolderReportsTheVersionOfItsVersionPy()
    {
        string lib = Lib("torch");
        File.WriteAllText(Path.Combine(lib, "..", "version.py"), "from typing import Optional\n__version__ = '2.11.0+cu130'\ncuda: Optional[str] = '13.0'\n");
        var location = LibTorchLocation.From(new[] { "/x/libLibTorchSharp.so", Path.Combine(lib, "libc10.so"), Path.Combine(lib, "libtorch_cpu.so") });
        Assert.Equal(new LibTorchLocation(lib, "2.11.0+cu130"), location);
    }

    [Fact]
    public void ALibTorchArchiveReportsItsBuildVersionAndLibtorchSoStandsInForLibtorchCpu()
    {
        string lib = Lib("libtorch");
        File.WriteAllText(Path.Combine(lib, "..", "build-version"), "2.10.0+cpu\n");
        Assert.Equal(new LibTorchLocation(lib, "2.10.0+cpu"), LibTorchLocation.From(new[] { Path.Combine(lib, "libtorch.so") }));
    }

    [Fact]
    public void AFolderWithNothingRecordedHasNoVersionAndNoLibTorchHasNoLocation()
    {
        string lib = Lib("native");
        File.WriteAllText(Path.Combine(lib, "..", "version.py"), "git_version = 'abc'\n"); // no __version__ line
        Assert.Equal(new LibTorchLocation(lib, null), LibTorchLocation.From(new[] { Path.Combine(lib, "libtorch_cpu.so") }));
        Assert.Null(LibTorchLocation.From(new[] { "/x/libLibTorchSharp.so", "/x/libc10.so" }));
    }
}

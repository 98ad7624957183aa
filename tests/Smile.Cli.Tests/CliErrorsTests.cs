using System.CommandLine;
using System.Runtime.InteropServices;
using Smile.Cli;
using static TorchSharp.torch;

namespace Smile.Tests.Cli;

/// <summary>Errors that do not come from the commands' own checks: still one line each.</summary>
public sealed class CliErrorsTests
{
    /// <summary>A CUDA allocator failure as LibTorch 2.x words it, with the start of its native backtrace.</summary>
    private const string CudaMessage =
        "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 139.81 GiB of which 1.12 GiB is free. " +
        "Including non-PyTorch memory, this process has 138.67 GiB memory in use. Of the allocated memory 137.9 GiB is allocated by PyTorch, " +
        "and 312.4 MiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting " +
        "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation for Memory Management  " +
        "(https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)\n" +
        "Exception raised from malloc at /pytorch/c10/cuda/CUDACachingAllocator.cpp:1341 (most recent call first):\n" +
        "frame #0: c10::Error::Error(c10::SourceLocation, std::string) + 0x9c (0x7f1b2c8 in /opt/libtorch/lib/libc10.so)\n" +
        "frame #1: <unknown function> + 0x3f7e2 (0x7f1b2d1 in /opt/libtorch/lib/libc10_cuda.so)\n" +
        "frame #2: at::native::empty_cuda(...) + 0x7a (0x7f1a9e0 in /opt/libtorch/lib/libtorch_cuda.so)\n";

    private static Command Finetune() => new("finetune")
    {
        new Option<int>("--batch_size"), new Option<int>("--batch_size_eval"), new Option<int>("--image_size"),
    };

    [Theory]
    [InlineData("x.safetensors: `resume`: no _Last checkpoint to continue from", "x.safetensors: --resume: no _Last checkpoint to continue from")]
    [InlineData("`val_split` and `eval_dir` are alternatives", "--val_split and --eval_dir are alternatives")]
    [InlineData("`device` cuda: CUDA is not available; see `smile info`", "--device cuda: CUDA is not available; see `smile info`")]
    [InlineData("no setting here: a_b --c `Upper`", "no setting here: a_b --c `Upper`")]
    public void CoreSettingsNamedInBackticksBecomeFlags(string core, string shown) => Assert.Equal(shown, CliErrors.WithFlags(core));

    /// <summary>The convention that makes <see cref="CliErrors.WithFlags"/> enough: Smile.Core's strings name
    /// settings, never flags. Scans the string literals of every Core source file for a "--name".</summary>
    [Fact]
    public void CoreStringsNameNoFlags()
    {
        var core = Path.Combine(RepoRoot.Path, "src", "Smile.Core");
        var literal = new System.Text.RegularExpressions.Regex(@"""(?:[^""\\\n]|\\.)*--[a-z][a-z_]+(?:[^""\\\n]|\\.)*""");
        var found = Directory.EnumerateFiles(core, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => !x.line.TrimStart().StartsWith("//", StringComparison.Ordinal) && literal.IsMatch(x.line))
            .Select(x => $"{Path.GetRelativePath(core, x.f)}:{x.i + 1}: {x.line.Trim()}").ToList();
        Assert.True(Directory.EnumerateFiles(core, "*.cs", SearchOption.AllDirectories).Count() > 50, "the scan must see Smile.Core's sources");
        Assert.Empty(found);
    }

    [Fact]
    public void ACudaOutOfMemoryBacktraceBecomesOneLineNamingTheFlagsThatLowerIt()
    {
        var root = new RootCommand { Finetune() };
        var line = CliErrors.OutOfMemoryLine(new ExternalException(CudaMessage), root.Subcommands[0]);
        Assert.NotNull(line);
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("error: out of GPU memory during `smile finetune` (CUDA out of memory. Tried to allocate 2.00 GiB.", line);
        Assert.EndsWith("(https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)); lower --batch_size or --batch_size_eval", line);
    }

    [Fact]
    public void LibTorchsOwnCpuAllocationFailureIsRecognised()
    {
        // A real failure: 2^50 floats are more than any machine's address space.
        var e = Assert.ThrowsAny<Exception>(() => { using var huge = empty(1L << 50); });
        var root = new RootCommand { new Command("test") { new Option<int>("--batch_size") } };
        var line = CliErrors.OutOfMemoryLine(new AggregateException(e), root.Subcommands[0]);
        Assert.True(line is not null, $"not recognised: {e.GetType().Name}: {e.Message}");
        Assert.DoesNotContain('\n', line);
        Assert.Matches(@"^error: out of CPU memory during `smile test` \(.*DefaultCPUAllocator: can't allocate memory.*\); lower --batch_size$", line);
    }

    [Fact]
    public void OtherErrorsAreNotOutOfMemory()
    {
        Assert.Null(CliErrors.OutOfMemoryLine(new ExternalException("shape '[2, 3]' is invalid for input of size 5\nframe #0: ..."), null));
        Assert.Null(CliErrors.OutOfMemoryLine(new InvalidOperationException("out of range"), null));
        Assert.Equal("error: out of memory during `smile plot` (Insufficient memory.); use smaller inputs or a machine with more memory",
            CliErrors.OutOfMemoryLine(new OutOfMemoryException("Insufficient memory."), new RootCommand { new Command("plot") }.Subcommands[0]));
    }

    [Theory]
    [InlineData(new[] { "test", "--bogus", "1" }, "error: Unrecognized command or argument '--bogus'; Unrecognized command or argument '1' (`smile test --help` lists the options)")]
    [InlineData(new[] { "predict", "--topk" }, "error: Required argument missing for option: '--topk' (`smile predict --help` lists the options)")]
    [InlineData(new[] { "calibrate", "--batch_size", "many" }, "error: Cannot parse argument 'many' for option '--batch_size' as expected type 'System.Int32' (`smile calibrate --help` lists the options)")]
    [InlineData(new[] { "frobnicate" }, "error: Required command was not provided; Unrecognized command or argument 'frobnicate' (`smile --help` lists the commands)")]
    [InlineData(new[] { "simtrans", "weights", "--nope" }, "error: Unrecognized command or argument '--nope' (`smile simtrans weights --help` lists the options)")]
    public void AParserErrorIsOneLineWithExitCode2(string[] args, string expected)
    {
        var r = SmileProcess.Run(args);
        Assert.True(r.ExitCode == 2, $"{r.Describe()}: {r.Stdout}{r.Stderr}");
        Assert.Equal(expected, r.Stderr.Trim());
        Assert.Equal("", r.Stdout); // no help text
    }
}

namespace Smile.Tests.Cli;

/// <summary>Flag values of the verbs other than finetune and distill that used to end in an internal error (an
/// empty path, an output folder that does not exist, an image size no machine can hold): one line naming the
/// flag, exit code 2, checked before any work.</summary>
public sealed class VerbFlagCliTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("smile-flags-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public void BadOutputPathsAndSizesAreOneLineNamingTheFlag()
    {
        // The commands check their output flags before they read the checkpoint, so any file stands in for one.
        var ckpt = Path.Combine(root, "model.safetensors");
        File.WriteAllBytes(ckpt, [0]);
        var images = Directory.CreateDirectory(Path.Combine(root, "images", "ant")).Parent!.FullName;
        var aFile = Path.Combine(root, "plain.txt");
        File.WriteAllText(aFile, "x");
        var missing = Path.Combine(root, "missing");
        var cases = new (string[] Args, string Message)[]
        {
            (["test", "--test_dir", images, "--ckpts", ckpt, "--json", ""], "--json: is empty: give a file name"),
            (["test", "--test_dir", images, "--ckpts", ckpt, "--json", Path.Combine(missing, "r.json")], $"--json: folder not found: {missing}"),
            (["test", "--test_dir", images, "--ckpts", ckpt, "--json", root], $"--json: {root} is a folder, not a file"),
            (["test", "--test_dir", images, "--ckpts", ckpt, "--plots", ""], "--plots: is empty: give a folder"),
            (["test", "--test_dir", images, "--ckpts", ckpt, "--plots", aFile], $"--plots: {aFile} is a file, not a folder"),
            (["predict", "--ckpts", ckpt, "--input", images, "--output", ""], "--output: is empty: give a file name"),
            (["predict", "--ckpts", ckpt, "--input", images, "--output", Path.Combine(missing, "p.csv")], $"--output: folder not found: {missing}"),
            (["demo-data", "--out", ""], "--out: is empty: give a folder"),
            (["demo-data", "--out", Path.Combine(root, "demo"), "--classes", "100000000"], "--classes: must be 2 to 100"),
            (["demo-data", "--out", Path.Combine(root, "demo"), "--train_per_class", "2000000000"], "--train_per_class: must be 1 to 10000"),
            (["demo-data", "--out", Path.Combine(aFile, "sub")], null!),
            (["selftest", "--model_arch", "resnet18", "--image_size", "100000"], "--image_size: must be at most 4096"),
            (["selftest", "--model_arch", "resnet18", "--batch_size", "0"], "--batch_size: must be at least 2 (BatchNorm in train mode)"),
            (["selftest", "--model_arch", "resnet18", "--channels_last", "sideways"], "--channels_last: must be on or off, not 'sideways'"),
            (["bench", "data", "--image_size", "0"], "--image_size: must be at least 32"),
            (["bench", "inference", "--image_size", "100000"], "--image_size: must be at most 4096"),
            (["simtrans", "train-simnet", "--base_dir", images, "--image_size", "100000"], "--image_size: must be at most 4096"),
            (["simtrans", "train-simnet", "--base_dir", images, "--wd", "Infinity"], "--wd: must be 0 or more"),
            (["simtrans", "train-simnet", "--base_dir", images, "--save", ""], "--save: is empty"),
            (["simtrans", "train-simnet", "--base_dir", images, "--precision", "fp64"], "--precision: must be fp32, bf16, fp16, not 'fp64'"),
        };
        foreach (var (args, message) in cases)
        {
            var r = SmileProcess.Run(args);
            Assert.True(r.ExitCode == 2, $"{string.Join(' ', args)}: {r.Describe()} {r.Stdout} {r.Stderr}");
            var line = Assert.Single(r.Stderr.Trim().Split('\n'));
            if (message is null) Assert.StartsWith("error: --out: cannot create the folder ", line);
            else Assert.Equal("error: " + message, line);
        }
        Assert.False(Directory.Exists(Path.Combine(root, "demo")));
    }
}

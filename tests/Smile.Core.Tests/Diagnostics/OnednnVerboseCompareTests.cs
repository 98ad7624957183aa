namespace Smile.Tests.Diagnostics;

/// <summary>scripts/dev/onednn_verbose_compare.py, the script behind docs/PERFORMANCE.md's kernel-for-kernel table, on a
/// made-up log in both oneDNN versions' line formats (3.x for Smile's lines, 2.x for the PyTorch child's).</summary>
public sealed class OnednnVerboseCompareTests
{
    private const string Smile3x = "onednn_verbose,v1,primitive,exec,cpu";
    private const string Torch2x = "[torch_profile.py] onednn_verbose,exec,cpu";

    private static string Conv(string prefix, string prop, string shape, double ms) =>
        $"{prefix},convolution,jit:avx512_core,{prop},src_f32::blocked:aBcd16b:f0 wei_f32::blocked:ABcd16b16a:f0,attr-scratchpad:user ,alg:convolution_direct,{shape},{ms}";

    private static string Reorder(string prefix, string from, string to, string shape, double ms) => prefix.StartsWith("[", StringComparison.Ordinal)
        ? $"{prefix},reorder,jit:blk,undef,src_f32::blocked:{from}:f0 dst_f32::blocked:{to}:f0,attr-scratchpad:user ,,{shape},{ms}"
        : $"{prefix},reorder,jit:blk,undef,src:f32::blocked:{from}::f0 dst:f32::blocked:{to}::f0,attr-scratchpad:user,,{shape},{ms}";

    [Fact]
    public void SumsPerShapeMediansTimesCallsAndSeparatesActivationReorders()
    {
        const string a = "mb16_ic64oc64_ih56oh56kh3sh1dh0ph1_iw56ow56kw3sw1dw0pw1", b = "mb16_ic64oc256_ih56oh56kh1sh1dh0ph0_iw56ow56kw1sw1dw0pw0";
        var lines = new List<string>
        {
            "onednn_verbose,v1,info,oneDNN v3.7.1",
            // Shape a: Smile's median 12 (the outlier 100 does not count), PyTorch's 8, over min(3, 2) = 2 calls.
            Conv(Smile3x, "forward_training", a, 10), Conv(Smile3x, "forward_training", a, 12), Conv(Smile3x, "forward_training", a, 100),
            Conv(Torch2x, "forward_training", a, 8), Conv(Torch2x, "forward_training", a, 8),
            // Shape b: 3 against 6 over one call each.
            Conv(Smile3x, "forward_training", b, 3), Conv(Torch2x, "forward_training", b, 6),
            // A backward seen only on Smile's side is left out.
            Conv(Smile3x, "backward_data", a, 50),
            Reorder(Smile3x, "abcd", "aBcd16b", "16x64x56x56", 4), Reorder(Torch2x, "abcd", "aBcd16b", "16x64x56x56", 2),
            Reorder(Smile3x, "abcd", "ABcd16b16a", "64x64x3x3", 1), Reorder(Torch2x, "abcd", "ABcd16b16a", "64x64x3x3", 4),
        };
        string log = Path.Combine(Path.GetTempPath(), $"smile-verbose-{Guid.NewGuid():N}.txt");
        File.WriteAllLines(log, lines);
        try
        {
            string output = Run(log);
            // forward: Smile 12 x 2 + 3 = 27, PyTorch 8 x 2 + 6 = 22, over 3 calls.
            Assert.Matches(@"convolution\s+forward_training\s+3\s+27\s+22\s+1\.23x", output);
            Assert.DoesNotContain("backward_data", output);
            Assert.Matches(@"reorder\s+activation\s+1\s+4\s+2\s+2\.00x", output);
            Assert.Matches(@"reorder\s+weight/other\s+1\s+1\s+4\s+0\.25x", output);
        }
        finally
        {
            File.Delete(log);
        }
    }

    private static string Run(string log)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "dev", "onednn_verbose_compare.py");
        Assert.True(File.Exists(script), $"{script} is missing");
        return PythonRunner.RunScript(script, log);
    }
}

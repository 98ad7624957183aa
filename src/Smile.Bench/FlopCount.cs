using Smile.Models;

namespace Smile.Bench;

/// <summary>
/// Floating-point operations of a forward pass, counted from the architecture: every convolution and the
/// classifier, a multiply-add as 2 operations (BatchNorm, ReLU, pooling and additions are left out: a few
/// percent, as usual). Training steps use the usual estimate backward = 2 x forward.
/// </summary>
public static class FlopCount
{
    /// <summary>Forward FLOPs per image of a torchvision ResNet (v1.5) at <paramref name="size"/>x<paramref name="size"/>,
    /// or null for families it does not know.</summary>
    public static double? ForwardPerImage(string arch, int size, int classes = 1000)
    {
        var spec = ResNetSpec.All.FirstOrDefault(s => s.Name == ModelFactory.CanonicalName(arch));
        if (spec is null) return null;
        double flops = 0;
        int h = Out(size, 7, 2, 3);
        flops += Conv(3, 64, 7, h);
        h = Out(h, 3, 2, 1); // max pool
        long inPlanes = 64;
        int expansion = spec.Bottleneck ? 4 : 1;
        for (int stage = 0; stage < 4; stage++)
        {
            long planes = 64L << stage;
            for (int block = 0; block < spec.Blocks[stage]; block++)
            {
                int stride = block == 0 && stage > 0 ? 2 : 1;
                int hOut = Out(h, 3, stride, 1);
                if (spec.Bottleneck)
                    flops += Conv(inPlanes, planes, 1, h) + Conv(planes, planes, 3, hOut) + Conv(planes, planes * 4, 1, hOut);
                else
                    flops += Conv(inPlanes, planes, 3, hOut) + Conv(planes, planes, 3, hOut);
                if (block == 0 && (stride != 1 || inPlanes != planes * expansion))
                    flops += Conv(inPlanes, planes * expansion, 1, hOut);
                inPlanes = planes * expansion;
                h = hOut;
            }
        }
        return flops + 2.0 * inPlanes * classes;
    }

    /// <summary>Per image: l2 step = 3 forward (forward, backward-data, backward-weight); SMILE step = 3 student
    /// forward + 1 teacher forward (no autograd); eval = 1 forward.</summary>
    public static (double L2, double Smile, double Eval) PerStep(double forward) => (3 * forward, 4 * forward, forward);

    private static int Out(int size, int kernel, int stride, int padding) => (size + 2 * padding - kernel) / stride + 1;

    private static double Conv(long cin, long cout, int kernel, int hOut) => 2.0 * cin * cout * kernel * kernel * hOut * hOut;
}

using TorchSharp;
using static TorchSharp.torch;

namespace Smile;

/// <summary>
/// Tensor arithmetic with a number, and tensor addition, with every TorchSharp Scalar held for the whole of its native
/// call. TorchSharp's own operators (<c>x * 0.5</c>, <c>a + b</c>, <c>a.add_(b)</c>) make a Scalar on the spot and leave
/// it to the garbage collector, whose finalizer can free it on another thread while LibTorch still reads it (a crash
/// or a wrong number once in a long while; docs/DESIGN.md, "Scalars"). The project's analyzer (SMILE001,
/// src/Smile.Analyzers) refuses those forms, and these are what the code writes instead. Each gives what the operator
/// gives, bit for bit: the same LibTorch call with the same Scalar.
/// </summary>
public static class TensorArithmetic
{
    /// <summary>1, the alpha of a plain addition, as a Scalar the process holds for good (read-only, so shared by
    /// every thread).</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>0, as <see cref="One"/> is: the start of an <c>arange</c> (whose one-argument form makes its 0 and 1
    /// inside TorchSharp).</summary>
    public static readonly Scalar Zero = 0.ToScalar();

    /// <summary>2, the exponent of <see cref="Squared"/>, held for good as <see cref="One"/> is.</summary>
    private static readonly Scalar Two = 2.ToScalar();

    /// <summary><c>a.square()</c>, which TorchSharp computes as <c>pow(2)</c> with a 2 it makes on the spot: the same
    /// call with a held 2.</summary>
    public static Tensor Squared(this Tensor a) => a.pow(Two);

    /// <summary><c>a + b</c>.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><c>a += b</c> in place (<c>a.add_(b)</c>); returns <paramref name="a"/>'s new handle as add_ does.</summary>
    public static Tensor AddInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary><c>a * k</c> (a floating-point k: the tensor keeps its floating dtype).</summary>
    public static Tensor Times(this Tensor a, double k)
    {
        using Scalar held = k;
        return a.mul(held);
    }

    /// <summary><c>a * k</c> for an integer k (an integer tensor stays integer).</summary>
    public static Tensor Times(this Tensor a, long k)
    {
        using Scalar held = k;
        return a.mul(held);
    }

    /// <summary><c>a / k</c>.</summary>
    public static Tensor DividedBy(this Tensor a, double k)
    {
        using Scalar held = k;
        return a.div(held);
    }

    /// <summary><c>a / k</c> for an integer k (a count, divided as the integer Scalar the operator would make).</summary>
    public static Tensor DividedBy(this Tensor a, long k)
    {
        using Scalar held = k;
        return a.div(held);
    }

    /// <summary><c>a + k</c>.</summary>
    public static Tensor Plus(this Tensor a, double k)
    {
        using Scalar held = k;
        return a.add(held, One);
    }

    /// <summary><c>a + k</c> for an integer k.</summary>
    public static Tensor Plus(this Tensor a, long k)
    {
        using Scalar held = k;
        return a.add(held, One);
    }

    /// <summary><c>a - k</c>.</summary>
    public static Tensor Minus(this Tensor a, double k)
    {
        using Scalar held = k;
        return a.sub(held);
    }

    /// <summary><c>a - k</c> for an integer k.</summary>
    public static Tensor Minus(this Tensor a, long k)
    {
        using Scalar held = k;
        return a.sub(held);
    }

    /// <summary><c>k - a</c>, computed as TorchSharp's operator computes it: -a + k (the same number as k - a: negation
    /// is exact). The negation is a temporary of the caller's dispose scope.</summary>
    public static Tensor SubtractedFrom(this Tensor a, double k)
    {
        using Scalar held = k;
        return a.neg().add_(held, One);
    }
}

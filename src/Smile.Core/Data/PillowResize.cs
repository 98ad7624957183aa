using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Smile.Data;

/// <summary>
/// Pillow's <c>Image.resize((w, h), Image.BILINEAR)</c> for 8-bit RGB, bit for bit (Pillow 9.4,
/// <c>reducing_gap=None</c>, no box): the pretrained weights were trained on Pillow-resized images.
/// </summary>
/// <remarks>
/// A port of <c>src/libImaging/Resample.c</c> (<c>ImagingResampleInner</c>, <c>precompute_coeffs</c>,
/// <c>normalize_coeffs_8bpc</c>, <c>ImagingResampleHorizontal_8bpc</c>, <c>ImagingResampleVertical_8bpc</c>):
/// <list type="bullet">
/// <item>coefficients of the triangle filter (support 1) widened by the downscale factor (antialiasing),
/// computed in double exactly as Pillow does (same operations, same order), normalised by their sum and
/// rounded half away from zero to fixed point with 22 fractional bits (PRECISION_BITS = 32 - 8 - 2);</item>
/// <item>a horizontal pass first (only when the width changes), over just the band of source rows the
/// vertical pass needs, into an 8-bit intermediate image, then a vertical pass (only when the height
/// changes); each sum starts at 1 &lt;&lt; 21 (rounding) and is clipped to 0..255 after the shift
/// (<c>clip8</c>); when neither changes Pillow copies the image.</item>
/// </list>
/// Integer sums are exact, so the order of the additions does not matter (the loops are reordered
/// for speed); the double-precision coefficient computation keeps Pillow's exact order of operations.
/// No shared mutable state: safe to call from several threads at once.
/// </remarks>
public static class PillowResize
{
    private const int PrecisionBits = 32 - 8 - 2;
    private const int Half = 1 << (PrecisionBits - 1);
    private const double BilinearSupport = 1.0;

    /// <summary>Resizes to <paramref name="width"/> x <paramref name="height"/> (aspect ratio ignored) as
    /// Pillow's <c>resize((width, height), Image.BILINEAR)</c> does.</summary>
    public static RgbImage Bilinear(RgbImage source, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(source);
        CheckSize(width, height);
        // Every byte is written: no need to zero the array first.
        var result = new RgbImage(width, height, GC.AllocateUninitializedArray<byte>(checked(width * height * 3)));
        Resample(source, width, height, 0, 0, width, height, result.Pixels);
        return result;
    }

    /// <summary>
    /// The region (<paramref name="left"/>, <paramref name="top"/>, <paramref name="cropWidth"/> x
    /// <paramref name="cropHeight"/>) of <c>Bilinear(source, width, height)</c>, computing only that region
    /// (only the needed coefficients, source rows and output pixels); bit-identical to resizing and cropping.
    /// </summary>
    public static RgbImage BilinearCrop(RgbImage source, int width, int height, int left, int top, int cropWidth, int cropHeight)
    {
        ArgumentNullException.ThrowIfNull(source);
        CheckSize(width, height);
        CheckRegion(width, height, left, top, cropWidth, cropHeight);
        var result = new RgbImage(cropWidth, cropHeight, GC.AllocateUninitializedArray<byte>(checked(cropWidth * cropHeight * 3)));
        Resample(source, width, height, left, top, cropWidth, cropHeight, result.Pixels);
        return result;
    }

    /// <summary>As <see cref="BilinearCrop"/>, writing the region's interleaved RGB bytes
    /// (cropWidth * cropHeight * 3) into <paramref name="destination"/>.</summary>
    internal static void BilinearCrop(RgbImage source, int width, int height, int left, int top, int cropWidth, int cropHeight, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(source);
        CheckSize(width, height);
        CheckRegion(width, height, left, top, cropWidth, cropHeight);
        if (destination.Length != cropWidth * cropHeight * 3)
            throw new ArgumentException($"destination must hold {cropWidth}x{cropHeight}x3 = {cropWidth * cropHeight * 3} bytes, got {destination.Length}", nameof(destination));
        Resample(source, width, height, left, top, cropWidth, cropHeight, destination);
    }

    private static void CheckSize(int width, int height)
    {
        if (width < 1 || height < 1)
            throw new ArgumentException($"the output size must be positive (got {width}x{height})");
    }

    private static void CheckRegion(int width, int height, int left, int top, int cropWidth, int cropHeight)
    {
        if (cropWidth < 1 || cropHeight < 1)
            throw new ArgumentException($"the crop size must be positive (got {cropWidth}x{cropHeight})");
        if (left < 0 || top < 0 || (long)left + cropWidth > width || (long)top + cropHeight > height)
            throw new ArgumentException(
                $"the crop ({left},{top}) {cropWidth}x{cropHeight} does not fit in the {width}x{height} resized image");
    }

    /// <summary>Fixed-point coefficients for output positions first .. first+count-1 (of outSize).</summary>
    private readonly struct Coefficients(int kernelSize, int[] bounds, int[] weights)
    {
        /// <summary>Coefficients per output position (Pillow's ksize); unused tail entries are 0.</summary>
        public readonly int KernelSize = kernelSize;
        /// <summary>Per output position: first source index (xmin) and number of source pixels (xmax).</summary>
        public readonly int[] Bounds = bounds;
        public readonly int[] Weights = weights;
    }

    /// <summary><c>precompute_coeffs</c> (box = 0..inSize) followed by <c>normalize_coeffs_8bpc</c>,
    /// for the output positions first .. first+count-1 only (each position's coefficients depend on
    /// nothing else).</summary>
    private static Coefficients Precompute(int inSize, int outSize, int first, int count)
    {
        // in1 - in0 is a float subtraction in Pillow (box coordinates are floats); exact here.
        double scale = (double)(float)inSize / outSize;
        double filterscale = scale;
        if (filterscale < 1.0) filterscale = 1.0;
        double support = BilinearSupport * filterscale;
        int ksize = (int)Math.Ceiling(support) * 2 + 1;
        if (count > int.MaxValue / ksize) throw new ArgumentException($"resize to {outSize} from {inSize} is too large");

        var bounds = new int[count * 2];
        var weights = new int[count * ksize];
        double[]? rented = null;
        Span<double> k = ksize <= 512 ? stackalloc double[ksize] : (rented = ArrayPool<double>.Shared.Rent(ksize));
        try
        {
            for (int i = 0; i < count; i++)
            {
                int xx = first + i;
                double center = 0.0 + (xx + 0.5) * scale;
                double ww = 0.0;
                double ss = 1.0 / filterscale;
                int xmin = (int)(center - support + 0.5);
                if (xmin < 0) xmin = 0;
                int xmax = (int)(center + support + 0.5);
                if (xmax > inSize) xmax = inSize;
                xmax -= xmin;
                for (int x = 0; x < xmax; x++)
                {
                    double w = BilinearFilter((x + xmin - center + 0.5) * ss);
                    k[x] = w;
                    ww += w;
                }
                for (int x = 0; x < xmax; x++)
                {
                    if (ww != 0.0) k[x] /= ww;
                }
                int row = i * ksize;
                for (int x = 0; x < xmax; x++)
                {
                    double p = k[x];
                    weights[row + x] = p < 0
                        ? (int)(-0.5 + p * (1 << PrecisionBits))
                        : (int)(0.5 + p * (1 << PrecisionBits));
                }
                bounds[i * 2] = xmin;
                bounds[i * 2 + 1] = xmax;
            }
        }
        finally
        {
            if (rented is not null) ArrayPool<double>.Shared.Return(rented);
        }
        return new Coefficients(ksize, bounds, weights);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double BilinearFilter(double x)
    {
        if (x < 0.0) x = -x;
        if (x < 1.0) return 1.0 - x;
        return 0.0;
    }

    /// <summary><c>clip8</c>: the sum shifted back to 8 bits and clamped to 0..255.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Clip8(int sum)
    {
        int v = sum >> PrecisionBits;
        if ((uint)v <= 255) return (byte)v;
        return v < 0 ? (byte)0 : (byte)255;
    }

    /// <summary><c>ImagingResampleInner</c> restricted to an output region (the whole image when the
    /// region is 0,0,width,height).</summary>
    private static unsafe void Resample(RgbImage source, int width, int height, int left, int top, int regionWidth, int regionHeight, Span<byte> destination)
    {
        int srcWidth = source.Width, srcHeight = source.Height;
        bool needHorizontal = width != srcWidth;
        bool needVertical = height != srcHeight;
        int srcStride = srcWidth * 3;
        int outStride = regionWidth * 3;

        fixed (byte* src = source.Pixels)
        fixed (byte* dst = destination)
        {
            if (!needHorizontal && !needVertical)
            {
                // Pillow copies the image; here: copy the region.
                for (int y = 0; y < regionHeight; y++)
                    new ReadOnlySpan<byte>(src + (long)(top + y) * srcStride + left * 3, outStride)
                        .CopyTo(new Span<byte>(dst + (long)y * outStride, outStride));
                return;
            }
            if (!needVertical)
            {
                var h = Precompute(srcWidth, width, left, regionWidth);
                Horizontal(src + (long)top * srcStride, srcStride, regionHeight, h, dst, outStride, regionWidth);
                return;
            }
            var v = Precompute(srcHeight, height, top, regionHeight);
            if (!needHorizontal)
            {
                Vertical(src + left * 3, srcStride, v, 0, dst, outStride, regionHeight);
                return;
            }

            // Both passes: the horizontal one over the band of source rows that the vertical one reads
            // (ybox_first .. ybox_last), into an 8-bit intermediate image.
            int bandFirst = int.MaxValue, bandLast = 0;
            for (int i = 0; i < regionHeight; i++)
            {
                bandFirst = Math.Min(bandFirst, v.Bounds[i * 2]);
                bandLast = Math.Max(bandLast, v.Bounds[i * 2] + v.Bounds[i * 2 + 1]);
            }
            int bandRows = bandLast - bandFirst;
            var hc = Precompute(srcWidth, width, left, regionWidth);
            byte[] temp = ArrayPool<byte>.Shared.Rent(bandRows * outStride);
            try
            {
                fixed (byte* tmp = temp)
                {
                    Horizontal(src + (long)bandFirst * srcStride, srcStride, bandRows, hc, tmp, outStride, regionWidth);
                    Vertical(tmp, outStride, v, bandFirst, dst, outStride, regionHeight);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(temp);
            }
        }
    }

    /// <summary><c>ImagingResampleHorizontal_8bpc</c> for 3 bands: <paramref name="rows"/> rows from
    /// <paramref name="input"/> into <paramref name="output"/>, output columns as in <paramref name="c"/>.</summary>
    private static unsafe void Horizontal(byte* input, int inStride, int rows, in Coefficients c, byte* output, int outStride, int columns)
    {
        int ksize = c.KernelSize;
        int inWidth = inStride / 3;
        fixed (int* bounds = c.Bounds)
        fixed (int* weights = c.Weights)
        {
            for (int y = 0; y < rows; y++)
            {
                byte* inRow = input + (long)y * inStride;
                byte* outRow = output + (long)y * outStride;
                for (int xx = 0; xx < columns; xx++)
                {
                    int xmin = bounds[xx * 2];
                    int xcount = bounds[xx * 2 + 1];
                    int* k = weights + xx * ksize;
                    byte* p = inRow + xmin * 3;
                    if (Sse41.IsSupported && xmin + xcount < inWidth)
                    {
                        // One pixel per step as 4 lanes (R, G, B and the next pixel's R, ignored): the
                        // 4-byte load stays inside the row because a pixel follows the last one used.
                        var sum = Vector128.Create(Half);
                        for (int x = 0; x < xcount; x++)
                        {
                            sum = Sse2.Add(sum, Sse41.MultiplyLow(Sse41.ConvertToVector128Int32(p), Vector128.Create(k[x])));
                            p += 3;
                        }
                        outRow[0] = Clip8(sum.GetElement(0));
                        outRow[1] = Clip8(sum.GetElement(1));
                        outRow[2] = Clip8(sum.GetElement(2));
                        outRow += 3;
                        continue;
                    }
                    int s0 = Half, s1 = Half, s2 = Half;
                    for (int x = 0; x < xcount; x++)
                    {
                        int w = k[x];
                        s0 += p[0] * w;
                        s1 += p[1] * w;
                        s2 += p[2] * w;
                        p += 3;
                    }
                    outRow[0] = Clip8(s0);
                    outRow[1] = Clip8(s1);
                    outRow[2] = Clip8(s2);
                    outRow += 3;
                }
            }
        }
    }

    /// <summary><c>ImagingResampleVertical_8bpc</c>: output row i sums input rows
    /// bounds[2i] - <paramref name="rowShift"/> onwards; each row is <paramref name="outStride"/> bytes
    /// (the channels need no distinction here: every byte of a row gets the same weight).</summary>
    private static unsafe void Vertical(byte* input, int inStride, in Coefficients c, int rowShift, byte* output, int outStride, int rows)
    {
        int ksize = c.KernelSize;
        int[] accRented = ArrayPool<int>.Shared.Rent(outStride);
        try
        {
            fixed (int* bounds = c.Bounds)
            fixed (int* weights = c.Weights)
            fixed (int* acc = accRented)
            {
                var accSpan = new Span<int>(acc, outStride);
                for (int yy = 0; yy < rows; yy++)
                {
                    int ymin = bounds[yy * 2] - rowShift;
                    int ycount = bounds[yy * 2 + 1];
                    int* k = weights + yy * ksize;
                    accSpan.Fill(Half);
                    for (int y = 0; y < ycount; y++)
                    {
                        int w = k[y];
                        if (w == 0) continue; // adds nothing
                        AccumulateRow(input + (long)(ymin + y) * inStride, w, acc, outStride);
                    }
                    byte* outRow = output + (long)yy * outStride;
                    for (int i = 0; i < outStride; i++) outRow[i] = Clip8(acc[i]);
                }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(accRented);
        }
    }

    /// <summary>acc[i] += row[i] * weight for i &lt; length (exact integer arithmetic, vectorised).</summary>
    private static unsafe void AccumulateRow(byte* row, int weight, int* acc, int length)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && length >= Vector<byte>.Count)
        {
            var w = new Vector<int>(weight);
            int step = Vector<byte>.Count;
            int n = Vector<int>.Count;
            for (; i <= length - step; i += step)
            {
                var bytes = Unsafe.ReadUnaligned<Vector<byte>>(row + i);
                Vector.Widen(bytes, out Vector<ushort> lo, out Vector<ushort> hi);
                Vector.Widen(lo, out Vector<uint> a, out Vector<uint> b);
                Vector.Widen(hi, out Vector<uint> c, out Vector<uint> d);
                int* p = acc + i;
                Unsafe.WriteUnaligned(p, Unsafe.ReadUnaligned<Vector<int>>(p) + Vector.AsVectorInt32(a) * w);
                Unsafe.WriteUnaligned(p + n, Unsafe.ReadUnaligned<Vector<int>>(p + n) + Vector.AsVectorInt32(b) * w);
                Unsafe.WriteUnaligned(p + 2 * n, Unsafe.ReadUnaligned<Vector<int>>(p + 2 * n) + Vector.AsVectorInt32(c) * w);
                Unsafe.WriteUnaligned(p + 3 * n, Unsafe.ReadUnaligned<Vector<int>>(p + 3 * n) + Vector.AsVectorInt32(d) * w);
            }
        }
        for (; i < length; i++) acc[i] += row[i] * weight;
    }
}

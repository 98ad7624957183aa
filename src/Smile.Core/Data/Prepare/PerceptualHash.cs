using System.Numerics;

namespace Smile.Data.Prepare;

/// <summary>
/// A 64-bit perceptual hash of an image, the DCT hash of Zauner (2010) as the pHash library and Python's
/// <c>imagehash.phash</c> compute it: grayscale, resize to 32x32, 2-D DCT-II, the 8x8 lowest frequencies (DC
/// included) compared with their median. Re-encoding, resizing and mild colour or contrast changes move few
/// bits; unrelated images differ in about half of them. Cropping, flipping and rotation are not caught.
/// </summary>
public static class PerceptualHash
{
    public const int Size = 32;
    private const int Low = 8;

    // cos(pi * k * (2n + 1) / (2 * Size)) for the Low frequencies k: the DCT-II basis (the constant factors of the
    // transform scale every coefficient alike and cannot change a comparison with the median).
    private static readonly double[,] Basis = MakeBasis();

    /// <summary>The hash of an image file, decoded as the trainer decodes it. A large JPEG is decoded at a reduced
    /// DCT scale (still at least 32x32, several times faster): the antialiased resize to 32x32 that follows leaves
    /// the low frequencies nearly as a full decode would, a bit or two apart at most (tested).</summary>
    public static ulong Of(string path) => Of(ImageDecoder.Decode(path, Size, Size));

    /// <summary>The hash; bit 63 is the coefficient (0, 0), then row by row, so the hex form reads as imagehash's.</summary>
    public static ulong Of(RgbImage image)
    {
        var gray = Grayscale(image);
        // Resizing the gray image with Pillow's antialiased bilinear filter: every pixel contributes, so the hash
        // of a large image describes all of it (a plain 32x32 sampling would alias fine texture).
        var small = PillowResize.Bilinear(gray, Size, Size).Pixels;

        // Separable DCT of the low frequencies only: columns first (Size x Low), then rows (Low x Low).
        var columns = new double[Size, Low];
        for (int y = 0; y < Size; y++)
            for (int v = 0; v < Low; v++)
            {
                double sum = 0;
                for (int x = 0; x < Size; x++) sum += small[(y * Size + x) * 3] * Basis[v, x];
                columns[y, v] = sum;
            }
        var dct = new double[Low * Low];
        for (int u = 0; u < Low; u++)
            for (int v = 0; v < Low; v++)
            {
                double sum = 0;
                for (int y = 0; y < Size; y++) sum += columns[y, v] * Basis[u, y];
                dct[u * Low + v] = sum;
            }

        double median = Median(dct);
        ulong hash = 0;
        for (int i = 0; i < dct.Length; i++)
            if (dct[i] > median) hash |= 1UL << (63 - i);
        return hash;
    }

    public static int Distance(ulong a, ulong b) => BitOperations.PopCount(a ^ b);

    /// <summary>Pillow's <c>convert("L")</c> (ITU-R 601 luma in 16-bit fixed point), kept in all three channels so
    /// that the project's RGB resize applies unchanged.</summary>
    private static RgbImage Grayscale(RgbImage image)
    {
        var gray = new RgbImage(image.Width, image.Height);
        var source = image.Pixels;
        var target = gray.Pixels;
        for (int o = 0; o < source.Length; o += 3)
        {
            byte luma = (byte)((source[o] * 19595 + source[o + 1] * 38470 + source[o + 2] * 7471 + 0x8000) >> 16);
            target[o] = target[o + 1] = target[o + 2] = luma;
        }
        return gray;
    }

    // numpy's median of 64 values: the mean of the two middle ones.
    private static double Median(double[] values)
    {
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        return (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static double[,] MakeBasis()
    {
        var basis = new double[Low, Size];
        for (int k = 0; k < Low; k++)
            for (int n = 0; n < Size; n++)
                basis[k, n] = Math.Cos(Math.PI * k * (2 * n + 1) / (2.0 * Size));
        return basis;
    }
}

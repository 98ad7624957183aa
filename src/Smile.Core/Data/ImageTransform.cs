using System.Buffers;

namespace Smile.Data;

/// <summary>Per-channel (R, G, B) normalisation after scaling to [0, 1]: (v / 255 - Mean[c]) / Std[c].</summary>
public sealed record Normalization
{
    public Normalization(float[] Mean, float[] Std)
    {
        ArgumentNullException.ThrowIfNull(Mean);
        ArgumentNullException.ThrowIfNull(Std);
        if (Mean.Length != 3 || Std.Length != 3)
            throw new ArgumentException($"normalisation needs 3 means and 3 standard deviations (R, G, B), got {Mean.Length} and {Std.Length}");
        for (int c = 0; c < 3; c++)
        {
            if (!float.IsFinite(Mean[c]))
                throw new ArgumentException($"normalisation mean[{c}] must be finite (got {Mean[c]})", nameof(Mean));
            if (!float.IsFinite(Std[c]) || Std[c] <= 0)
                throw new ArgumentException($"normalisation std[{c}] must be positive and finite (got {Std[c]})", nameof(Std));
        }
        this.Mean = (float[])Mean.Clone();
        this.Std = (float[])Std.Clone();
    }

    /// <summary>The means, R G B (a private copy; do not modify).</summary>
    public float[] Mean { get; }
    /// <summary>The standard deviations, R G B (a private copy; do not modify).</summary>
    public float[] Std { get; }

    /// <summary>ImageNet's statistics, as the reference (and the pretrained weights) use.</summary>
    public static Normalization ImageNet { get; } = new([0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);

    public void Deconstruct(out float[] Mean, out float[] Std)
    {
        Mean = this.Mean;
        Std = this.Std;
    }

    public bool Equals(Normalization? other) =>
        other is not null && Mean.AsSpan().SequenceEqual(other.Mean) && Std.AsSpan().SequenceEqual(other.Std);

    public override int GetHashCode() => HashCode.Combine(Mean[0], Mean[1], Mean[2], Std[0], Std[1], Std[2]);
}

/// <summary>
/// What to do to one image: resize to <see cref="ResizeSize"/> x <see cref="ResizeSize"/> (aspect ratio
/// ignored, Pillow bilinear), then take a <see cref="CropSize"/> x <see cref="CropSize"/> crop (random crop
/// and random horizontal flip when <see cref="Train"/>, centre crop otherwise), then normalise.
/// </summary>
/// <remarks>Validated when constructed; <see cref="Validate"/> checks again (after a <c>with</c>).</remarks>
public sealed record TransformSpec(int CropSize, int ResizeSize, bool Train, Normalization Normalization)
{
    /// <summary>The largest image (crop) size that checkpoints and the command line accept: a 4096 x 4096 crop is
    /// already 3 * 4096 * 4096 * 4 bytes = 192 MiB of float32 per image, far beyond the 224 or 448 of the method.</summary>
    public const int MaxImageSize = 4096;

    // Runs in the primary constructor: an invalid spec cannot be constructed.
    private readonly bool _valid = Check(CropSize, ResizeSize, Normalization);

    /// <summary>The reference's 224 -> 256 generalised: round(cropSize * 256 / 224) (32 -> 37, 448 -> 512).
    /// cropSize * 8 / 7 is never exactly halfway, so the rounding mode does not matter.</summary>
    public static int ResizeFor(int cropSize)
    {
        if (cropSize < 1) throw new ArgumentException($"the image (crop) size must be positive (got {cropSize})", nameof(cropSize));
        return (int)Math.Round(cropSize * 256.0 / 224.0, MidpointRounding.ToEven);
    }

    /// <summary>Training: Resize(ResizeFor(imageSize)), RandomHorizontalFlip, RandomCrop(imageSize), Normalize.</summary>
    public static TransformSpec ForTraining(int imageSize, Normalization? n = null) =>
        new(imageSize, ResizeFor(imageSize), true, n ?? Normalization.ImageNet);

    /// <summary>Evaluation: Resize(ResizeFor(imageSize)), CenterCrop(imageSize), Normalize.</summary>
    public static TransformSpec ForEvaluation(int imageSize, Normalization? n = null) =>
        new(imageSize, ResizeFor(imageSize), false, n ?? Normalization.ImageNet);

    /// <summary>Training only: TLlib's RandomResizedCrop instead of the resize and random crop (<see cref="TrainingTransform"/>);
    /// null: the reference's.</summary>
    public RandomResizedCrop? RandomResized { get; init; }

    /// <summary>The largest crop offset (top or left): ResizeSize - CropSize.</summary>
    public int MaxOffset => ResizeSize - CropSize;

    /// <summary>Floats one image occupies in a batch tensor: 3 * CropSize * CropSize.</summary>
    public int ElementCount => 3 * CropSize * CropSize;

    /// <summary>Throws <see cref="ArgumentException"/> when the sizes or the normalisation are invalid.</summary>
    public void Validate() => Check(CropSize, ResizeSize, Normalization);

    private static bool Check(int cropSize, int resizeSize, Normalization normalization)
    {
        if (cropSize < 1) throw new ArgumentException($"CropSize must be positive (got {cropSize})", nameof(CropSize));
        if (resizeSize < 1) throw new ArgumentException($"ResizeSize must be positive (got {resizeSize})", nameof(ResizeSize));
        if (cropSize > resizeSize)
            throw new ArgumentException($"CropSize ({cropSize}) cannot be larger than ResizeSize ({resizeSize})", nameof(CropSize));
        if ((long)cropSize * cropSize * 3 > int.MaxValue)
            throw new ArgumentException($"CropSize {cropSize} is too large", nameof(CropSize));
        if (normalization is null) throw new ArgumentException("Normalization is required", nameof(Normalization));
        return true;
    }
}

/// <summary>
/// One sample's random choices, drawn by the caller from a seeded per-sample RNG (so results depend only on
/// seed, epoch and index).
/// </summary>
/// <param name="Flip">Mirror left-right.</param>
/// <param name="CropTop">Top row of the crop in the resized image.</param>
/// <param name="CropLeft">Left column of the crop in the resized image <em>after</em> the flip (when
/// <paramref name="Flip"/>): the reference's convention, RandomHorizontalFlip then RandomCrop. The crop covers
/// columns ResizeSize - CropSize - CropLeft .. ResizeSize - 1 - CropLeft of the unflipped image.</param>
public readonly record struct Augmentation(bool Flip, int CropTop, int CropLeft)
{
    /// <summary>
    /// The reference's draws, in its order: flip (<c>rng.NextDouble() &lt; 0.5</c>), then the crop's top,
    /// then its left, each uniform over 0 .. ResizeSize - CropSize inclusive. Always three draws, also for an
    /// evaluation spec (the caller decides whether to draw).
    /// </summary>
    public static Augmentation Draw(Random rng, TransformSpec spec)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        bool flip = rng.NextDouble() < 0.5;
        int top = rng.Next(0, spec.MaxOffset + 1);
        int left = rng.Next(0, spec.MaxOffset + 1);
        return new Augmentation(flip, top, left);
    }

    /// <summary>The centre crop without flip, offsets as Python's round((Resize - Crop) / 2) (half to even:
    /// 2.5 -> 2, 1.5 -> 2), as paddle's center_crop computes them.</summary>
    public static Augmentation Center(TransformSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        int offset = (int)Math.Round(spec.MaxOffset / 2.0, MidpointRounding.ToEven);
        return new Augmentation(false, offset, offset);
    }
}

/// <summary>Resize, crop, flip and normalise one image straight into its slot of a batch tensor.</summary>
public static class ImageTransform
{
    /// <summary>
    /// <c>PillowResize.Bilinear(image, Resize, Resize)</c> -> (flip) -> crop -> float CHW normalised
    /// ((v / 255 - mean[c]) / std[c], in float) into <paramref name="destination"/>, which must hold exactly
    /// 3 * Crop * Crop floats: all R, then all G, then all B, rows top to bottom.
    /// Only the crop's part of the resized image is computed, and the flip happens while writing.
    /// </summary>
    public static void Apply(RgbImage image, TransformSpec spec, Augmentation aug, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        int crop = spec.CropSize, resize = spec.ResizeSize, max = spec.MaxOffset;
        if (aug.CropTop < 0 || aug.CropTop > max || aug.CropLeft < 0 || aug.CropLeft > max)
            throw new ArgumentException(
                $"crop offset (top {aug.CropTop}, left {aug.CropLeft}) is outside 0..{max} for a {crop} crop of a {resize} image", nameof(aug));
        int plane = crop * crop;
        if (destination.Length != 3 * plane)
            throw new ArgumentException(
                $"destination must hold 3x{crop}x{crop} = {3 * plane} floats, got {destination.Length}", nameof(destination));

        // Flip-then-crop at CropLeft = crop of the unflipped image at resize - crop - CropLeft, then flip.
        int left = aug.Flip ? max - aug.CropLeft : aug.CropLeft;

        Span<float> lut = stackalloc float[3 * 256];
        var mean = spec.Normalization.Mean;
        var std = spec.Normalization.Std;
        for (int c = 0; c < 3; c++)
        {
            float m = mean[c], s = std[c];
            for (int v = 0; v < 256; v++) lut[c * 256 + v] = ((float)v / 255f - m) / s;
        }

        byte[] pixels = ArrayPool<byte>.Shared.Rent(plane * 3);
        try
        {
            var region = pixels.AsSpan(0, plane * 3);
            PillowResize.BilinearCrop(image, resize, resize, left, aug.CropTop, crop, crop, region);

            var red = destination[..plane];
            var green = destination.Slice(plane, plane);
            var blue = destination.Slice(2 * plane, plane);
            var lutR = lut[..256];
            var lutG = lut.Slice(256, 256);
            var lutB = lut.Slice(512, 256);
            for (int y = 0; y < crop; y++)
            {
                var row = region.Slice(y * crop * 3, crop * 3);
                int o = y * crop;
                if (aug.Flip)
                {
                    for (int x = 0, p = (crop - 1) * 3; x < crop; x++, p -= 3)
                    {
                        red[o + x] = lutR[row[p]];
                        green[o + x] = lutG[row[p + 1]];
                        blue[o + x] = lutB[row[p + 2]];
                    }
                }
                else
                {
                    for (int x = 0, p = 0; x < crop; x++, p += 3)
                    {
                        red[o + x] = lutR[row[p]];
                        green[o + x] = lutG[row[p + 1]];
                        blue[o + x] = lutB[row[p + 2]];
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(pixels);
        }
    }
}

namespace Smile.Data;

/// <summary>
/// One training image's random transform, drawn from its own seeded <see cref="Random"/> (the loader's per-image seed):
/// the reference's resize, flip and random crop (<see cref="Augmentation.Draw"/>, <see cref="ImageTransform.Apply"/>),
/// or, when the spec has <see cref="TransformSpec.RandomResized"/>, TLlib's RandomResizedCrop then
/// RandomHorizontalFlip: a box of the full-resolution image (<see cref="RandomResizedCrop.Draw"/>), resized to the
/// crop size with the Pillow-exact bilinear resize, then a flip drawn after the box.
/// </summary>
public static class TrainingTransform
{
    /// <summary>The minimum width and height the image must be decoded at: the resize size, or 0 (full resolution)
    /// for RandomResizedCrop, whose box is drawn in the original image's pixels.</summary>
    public static int DecodeSize(TransformSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Train && spec.RandomResized is not null ? 0 : spec.ResizeSize;
    }

    public static void Apply(RgbImage image, TransformSpec spec, Random rng, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(rng);
        if (spec.RandomResized is not { } crop)
        {
            ImageTransform.Apply(image, spec, Augmentation.Draw(rng, spec), destination);
            return;
        }
        var box = crop.Draw(rng, image.Width, image.Height);
        bool flip = rng.NextDouble() < 0.5;
        // The box resized to CropSize x CropSize: ImageTransform with a resize to the crop size and no offset.
        var square = new TransformSpec(spec.CropSize, spec.CropSize, true, spec.Normalization);
        ImageTransform.Apply(RandomResizedCrop.Cut(image, box), square, new Augmentation(flip, 0, 0), destination);
    }
}

using Smile.Data;

namespace Smile.Tests.Data;

[Collection("Pillow reference")]
public sealed class ImageTransformTests(PillowReferenceFixture pillow)
{
    private static readonly float[] Mean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] Std = [0.229f, 0.224f, 0.225f];

    private static float Normalised(byte v, int c) => ((float)v / 255f - Mean[c]) / Std[c];

    /// <summary>Centre crop of a 4x4 image (resize 4 = a copy), crop 2 at offset round(1.0) = 1: by hand.</summary>
    [Fact]
    public void CentreCropMatchesHandComputation()
    {
        var image = new RgbImage(4, 4);
        for (int i = 0; i < image.Pixels.Length; i++) image.Pixels[i] = (byte)(i * 5);
        var spec = new TransformSpec(2, 4, false, Normalization.ImageNet);
        var aug = Augmentation.Center(spec);
        Assert.Equal(new Augmentation(false, 1, 1), aug);
        var dst = new float[12];
        ImageTransform.Apply(image, spec, aug, dst);

        // pixel (x, y) channel c is byte (y*4 + x)*3 + c, value 5 times that.
        // CHW: dst[c*4 + row*2 + col] = source pixel (1 + col, 1 + row).
        var expected = new float[12];
        for (int c = 0; c < 3; c++)
        for (int row = 0; row < 2; row++)
        for (int col = 0; col < 2; col++)
            expected[c * 4 + row * 2 + col] = Normalised((byte)(((1 + row) * 4 + 1 + col) * 3 * 5 + c * 5), c);
        Assert.Equal(expected, dst);

        // Literal spot checks: R of pixel (1,1) = byte 15 -> 75: (75/255 - 0.485) / 0.229;
        // B of pixel (2,2) = byte 32 -> 160: (160/255 - 0.406) / 0.225.
        Assert.Equal((75.0 / 255 - 0.485) / 0.229, dst[0], 5);
        Assert.Equal((160.0 / 255 - 0.406) / 0.225, dst[8 + 3], 5);
    }

    [Fact]
    public void ImageNetNormalisationValues()
    {
        Assert.Equal(Mean, Normalization.ImageNet.Mean);
        Assert.Equal(Std, Normalization.ImageNet.Std);
        Assert.Equal(new Normalization([0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]), Normalization.ImageNet);
    }

    /// <summary>Against Pillow: img.resize((R, R), BILINEAR) [.transpose(FLIP_LEFT_RIGHT)] .crop((j, i, j+C, i+C)),
    /// normalised; Augmentation(flip, i, j) must select exactly that (flip first, crop in the flipped image).</summary>
    [Fact]
    public void FlipThenCropMatchesPillowReference()
    {
        var reference = pillow.Data;
        Assert.True(reference.Crops.Length >= 8, $"expected at least 8 reference crops, found {reference.Crops.Length}");
        Assert.Contains(reference.Crops, c => c.Flip && c.Left != c.Resize - c.CropSize - c.Left); // flip convention is observable
        foreach (var c in reference.Crops)
        {
            var source = reference.LoadSource(c.Image);
            var expectedBytes = reference.Load(c.File, c.CropSize, c.CropSize);
            var spec = new TransformSpec(c.CropSize, c.Resize, true, Normalization.ImageNet);
            var dst = new float[spec.ElementCount];
            ImageTransform.Apply(source, spec, new Augmentation(c.Flip, c.Top, c.Left), dst);
            int plane = c.CropSize * c.CropSize;
            int mismatches = 0;
            for (int p = 0; p < plane; p++)
            for (int ch = 0; ch < 3; ch++)
                if (dst[ch * plane + p] != Normalised(expectedBytes.Pixels[p * 3 + ch], ch)) mismatches++;
            Assert.True(mismatches == 0,
                $"{c.Image}: resize {c.Resize}, flip {c.Flip}, crop {c.CropSize} at (top {c.Top}, left {c.Left}): {mismatches} of {3 * plane} values differ from Pillow");
        }
    }

    /// <summary>C# reference: full resize, flip the whole image, crop at (top, left), normalise.</summary>
    [Fact]
    public void ApplyEqualsStraightforwardFlipThenCrop()
    {
        var image = PillowResizeTests.Detailed(173, 121, 11);
        var spec = TransformSpec.ForTraining(32);
        var full = PillowResize.Bilinear(image, spec.ResizeSize, spec.ResizeSize);
        int r = spec.ResizeSize, c = spec.CropSize;
        var rng = new Random(5);
        for (int trial = 0; trial < 40; trial++)
        {
            var aug = Augmentation.Draw(rng, spec);
            var dst = new float[spec.ElementCount];
            ImageTransform.Apply(image, spec, aug, dst);
            for (int y = 0; y < c; y++)
            for (int x = 0; x < c; x++)
            {
                int fx = aug.CropLeft + x;                       // column in the flipped image
                int sx = aug.Flip ? r - 1 - fx : fx;             // column in the resized image
                int sy = aug.CropTop + y;
                for (int ch = 0; ch < 3; ch++)
                {
                    float expected = Normalised(full.Pixels[(sy * r + sx) * 3 + ch], ch);
                    Assert.True(expected == dst[ch * c * c + y * c + x], $"{aug}: channel {ch} at ({x},{y})");
                }
            }
        }
    }

    [Theory]
    [InlineData(37, 32, 2)]   // 2.5 -> 2 (half to even, as Python's round)
    [InlineData(256, 224, 16)]
    [InlineData(512, 448, 32)]
    [InlineData(5, 2, 2)]     // 1.5 -> 2
    [InlineData(7, 2, 2)]     // 2.5 -> 2
    [InlineData(9, 2, 4)]     // 3.5 -> 4
    [InlineData(3, 2, 0)]     // 0.5 -> 0
    [InlineData(6, 1, 2)]     // 2.5 -> 2
    [InlineData(10, 10, 0)]
    public void CentreOffsetRoundsHalfToEven(int resize, int crop, int expected)
    {
        var aug = Augmentation.Center(new TransformSpec(crop, resize, false, Normalization.ImageNet));
        Assert.Equal(new Augmentation(false, expected, expected), aug);
    }

    [Fact]
    public void DrawCoversBothFlipsAndTheFullInclusiveRange()
    {
        var spec = TransformSpec.ForTraining(32); // resize 37: offsets 0..5
        var rng = new Random(123);
        var tops = new HashSet<int>();
        var lefts = new HashSet<int>();
        int flips = 0;
        const int draws = 3000;
        for (int i = 0; i < draws; i++)
        {
            var a = Augmentation.Draw(rng, spec);
            Assert.InRange(a.CropTop, 0, 5);
            Assert.InRange(a.CropLeft, 0, 5);
            tops.Add(a.CropTop);
            lefts.Add(a.CropLeft);
            if (a.Flip) flips++;
        }
        Assert.Equal(Enumerable.Range(0, 6), tops.Order());
        Assert.Equal(Enumerable.Range(0, 6), lefts.Order());
        Assert.InRange(flips, draws * 4 / 10, draws * 6 / 10);

        // deterministic for a seed, different for another
        List<Augmentation> Sequence(int seed)
        {
            var r = new Random(seed);
            return Enumerable.Range(0, 50).Select(_ => Augmentation.Draw(r, spec)).ToList();
        }
        var a1 = Sequence(99);
        var a2 = Sequence(99);
        var a3 = Sequence(100);
        Assert.Equal(a1, a2);
        Assert.NotEqual(a1, a3);

        // no room to move: always offset 0
        var tight = new TransformSpec(8, 8, true, Normalization.ImageNet);
        for (int i = 0; i < 20; i++)
        {
            var a = Augmentation.Draw(rng, tight);
            Assert.Equal((0, 0), (a.CropTop, a.CropLeft));
        }
    }

    [Theory]
    [InlineData(224, 256)]
    [InlineData(32, 37)]    // 36.57 -> 37
    [InlineData(448, 512)]
    [InlineData(64, 73)]    // 73.14 -> 73
    [InlineData(1, 1)]
    public void ResizeSizeIsCropTimes256Over224Rounded(int crop, int resize)
    {
        var train = TransformSpec.ForTraining(crop);
        var eval = TransformSpec.ForEvaluation(crop);
        Assert.Equal(new TransformSpec(crop, resize, true, Normalization.ImageNet), train);
        Assert.Equal(new TransformSpec(crop, resize, false, Normalization.ImageNet), eval);
        var custom = new Normalization([0.5f, 0.5f, 0.5f], [0.25f, 0.25f, 0.25f]);
        Assert.Same(custom, TransformSpec.ForEvaluation(crop, custom).Normalization);
    }

    [Fact]
    public void InvalidSpecsAreRejectedWithClearMessages()
    {
        var n = Normalization.ImageNet;
        Assert.Contains("CropSize (300) cannot be larger than ResizeSize (256)",
            Assert.Throws<ArgumentException>(() => new TransformSpec(300, 256, false, n)).Message);
        Assert.Contains("CropSize must be positive (got 0)", Assert.Throws<ArgumentException>(() => new TransformSpec(0, 256, false, n)).Message);
        Assert.Contains("ResizeSize must be positive (got -3)", Assert.Throws<ArgumentException>(() => new TransformSpec(2, -3, false, n)).Message);
        Assert.Contains("must be positive", Assert.Throws<ArgumentException>(() => TransformSpec.ForTraining(0)).Message);
        Assert.Contains("must be positive", Assert.Throws<ArgumentException>(() => TransformSpec.ForEvaluation(-224)).Message);
        Assert.Throws<ArgumentException>(() => new Normalization([0.5f, 0.5f], [0.2f, 0.2f, 0.2f]));
        Assert.Contains("std[1] must be positive", Assert.Throws<ArgumentException>(() => new Normalization([0.5f, 0.5f, 0.5f], [0.2f, 0f, 0.2f])).Message);

        // a spec made invalid by `with` is caught where it is used
        var bad = TransformSpec.ForEvaluation(32) with { CropSize = 40 };
        Assert.Contains("cannot be larger", Assert.Throws<ArgumentException>(() => Augmentation.Center(bad)).Message);
        Assert.Contains("cannot be larger", Assert.Throws<ArgumentException>(() => Augmentation.Draw(new Random(1), bad)).Message);
        Assert.Contains("cannot be larger", Assert.Throws<ArgumentException>(() => ImageTransform.Apply(new RgbImage(50, 50), bad, default, new float[3 * 40 * 40])).Message);
    }

    [Fact]
    public void ApplyRejectsWrongDestinationAndOffsets()
    {
        var image = new RgbImage(50, 40);
        var spec = TransformSpec.ForEvaluation(32);
        var center = Augmentation.Center(spec);
        Assert.Contains("destination must hold 3x32x32 = 3072 floats, got 3071",
            Assert.Throws<ArgumentException>(() => ImageTransform.Apply(image, spec, center, new float[3071])).Message);
        Assert.Contains("got 3073", Assert.Throws<ArgumentException>(() => ImageTransform.Apply(image, spec, center, new float[3073])).Message);
        Assert.Contains("outside 0..5", Assert.Throws<ArgumentException>(() => ImageTransform.Apply(image, spec, new Augmentation(false, 6, 0), new float[3072])).Message);
        Assert.Contains("outside 0..5", Assert.Throws<ArgumentException>(() => ImageTransform.Apply(image, spec, new Augmentation(true, 0, -1), new float[3072])).Message);
        Assert.Throws<ArgumentNullException>(() => ImageTransform.Apply(null!, spec, center, new float[3072]));
    }

    /// <summary>Apply writes only its slot: a batch buffer's neighbours stay untouched.</summary>
    [Fact]
    public void ApplyWritesIntoASliceOfABatch()
    {
        var spec = TransformSpec.ForEvaluation(32);
        var image = PillowResizeTests.Detailed(90, 60, 2);
        var batch = new float[3 * spec.ElementCount];
        Array.Fill(batch, float.NaN);
        ImageTransform.Apply(image, spec, Augmentation.Center(spec), batch.AsSpan(spec.ElementCount, spec.ElementCount));
        Assert.All(batch[..spec.ElementCount], v => Assert.True(float.IsNaN(v)));
        Assert.All(batch[(2 * spec.ElementCount)..], v => Assert.True(float.IsNaN(v)));
        Assert.All(batch[spec.ElementCount..(2 * spec.ElementCount)], v => Assert.True(float.IsFinite(v)));
        var alone = new float[spec.ElementCount];
        ImageTransform.Apply(image, spec, Augmentation.Center(spec), alone);
        Assert.Equal(alone, batch[spec.ElementCount..(2 * spec.ElementCount)]);
    }
}

using Smile.Data;

namespace Smile.Tests.Data;

/// <summary>RandomResizedCrop's geometry against torchvision's get_params algorithm: boxes inside the image with area
/// fraction and aspect ratio in range (up to the rounding of w and h), the draws in torchvision's order, the fallback
/// after ten misses, and the same box and pixels for the same seed.</summary>
public sealed class RandomResizedCropTests
{
    /// <summary>A Random whose NextDouble returns scripted values and whose Next(min, max) returns scripted values
    /// and records its bounds, to follow get_params step by step.</summary>
    private sealed class ScriptedRandom(double[] uniforms, int[] integers) : Random
    {
        private int u, i;
        public List<(int Min, int Max)> IntegerBounds { get; } = [];
        public int UniformsUsed => u;
        public override double NextDouble() => uniforms[u++];
        public override int Next(int minValue, int maxValue)
        {
            IntegerBounds.Add((minValue, maxValue));
            return integers[i++];
        }
    }

    [Fact]
    public void FollowsGetParamsStepByStep()
    {
        // 100 x 100, torchvision's defaults. Scale draw 0.5: area 10000 * (0.08 + 0.92 * 0.5) = 5400; ratio draw 0.5:
        // exp(midpoint of log 3/4 and log 4/3) = 1, so w = h = round(sqrt(5400)) = round(73.48) = 73; then top in
        // 0..27 and left in 0..27 (randint(0, 100 - 73 + 1)), scripted as 5 and 7.
        var rng = new ScriptedRandom([0.5, 0.5], [5, 7]);
        var box = new RandomResizedCrop().Draw(rng, 100, 100);
        Assert.Equal(new CropBox(7, 5, 73, 73), box);
        Assert.Equal([(0, 28), (0, 28)], rng.IntegerBounds);
    }

    [Fact]
    public void AMissTriesAgainWithTheNextDraws()
    {
        // 200 x 50: the first try (scale 1, ratio 4/3 -> w = round(sqrt(10000 * 4/3)) = 115, h = 87 > 50) misses; the
        // second (scale 0.08 -> area 800, ratio 1 -> w = h = round(28.28) = 28) fits.
        var rng = new ScriptedRandom([1.0, 1.0, 0.0, 0.5], [3, 100]);
        var box = new RandomResizedCrop().Draw(rng, 200, 50);
        Assert.Equal(new CropBox(100, 3, 28, 28), box);
        Assert.Equal(4, rng.UniformsUsed);
        Assert.Equal([(0, 23), (0, 173)], rng.IntegerBounds);
    }

    [Theory]
    [InlineData(1000, 10, 493, 0, 13, 10)]   // too wide: h = H, w = round(H * 4/3)
    [InlineData(10, 1000, 0, 493, 10, 13)]   // too tall: w = W, h = round(W / (3/4))
    [InlineData(100, 100, 0, 0, 100, 100)]   // within the ratios: the whole image
    public void TenMissesFallBackToTheCentredBox(int width, int height, int left, int top, int w, int h)
    {
        // Draws of 1 give the largest box of ratio 4/3, which misses a square image and every draw misses the thin ones.
        var rng = new ScriptedRandom(Enumerable.Repeat(1.0, 20).ToArray(), []);
        var crop = new RandomResizedCrop();
        Assert.Equal(new CropBox(left, top, w, h), crop.Draw(rng, width, height));
        Assert.Equal(20, rng.UniformsUsed); // ten tries, two draws each
        Assert.Empty(rng.IntegerBounds);
        Assert.Equal(new CropBox(left, top, w, h), crop.Fallback(width, height));
        if (width != height) Assert.Equal(new CropBox(left, top, w, h), crop.Draw(new Random(1), width, height)); // no box fits at all
    }

    [Theory]
    [InlineData(0.08)]
    [InlineData(0.2)]
    public void BoxesStayInsideWithTheirAreaAndRatioInRange(double minScale)
    {
        var crop = new RandomResizedCrop(minScale);
        const int width = 300, height = 200;
        double smallest = 1, largest = 0;
        for (int seed = 0; seed < 2000; seed++)
        {
            var b = crop.Draw(new Random(seed), width, height);
            Assert.True(b.Left >= 0 && b.Top >= 0 && b.Width >= 1 && b.Height >= 1 && b.Left + b.Width <= width && b.Top + b.Height <= height, $"seed {seed}: {b}");
            // w and h are rounded: the unrounded box lies within half a pixel of each side.
            double area = (double)width * height;
            Assert.True((b.Width + 0.5) * (b.Height + 0.5) >= minScale * area && (b.Width - 0.5) * (b.Height - 0.5) <= area, $"seed {seed}: {b}");
            Assert.True((b.Width + 0.5) / (b.Height - 0.5) >= 3.0 / 4.0 && (b.Width - 0.5) / (b.Height + 0.5) <= 4.0 / 3.0, $"seed {seed}: {b}");
            double fraction = b.Width * b.Height / area;
            (smallest, largest) = (Math.Min(smallest, fraction), Math.Max(largest, fraction));
        }
        Assert.True(smallest < minScale + 0.02, $"smallest area fraction {smallest}"); // the range is used, not a corner of it
        Assert.True(largest > 0.8, $"largest area fraction {largest}"); // at most 0.889 here: a 300 x 200 image holds no box of ratio 4/3 or less larger than 266 x 200
    }

    [Fact]
    public void TheSameSeedGivesTheSameBoxAndPixels()
    {
        var image = SyntheticPhotos.Render(120, 90, 4);
        var spec = TransformSpec.ForTraining(32) with { RandomResized = new RandomResizedCrop() };
        float[] Run(int seed)
        {
            var pixels = new float[spec.ElementCount];
            TrainingTransform.Apply(image, spec, new Random(seed), pixels);
            return pixels;
        }
        Assert.Equal(Run(11), Run(11));
        Assert.NotEqual(Run(11), Run(12));
        Assert.Equal(0, TrainingTransform.DecodeSize(spec)); // the box is drawn in the full-resolution image
        Assert.Equal(spec.ResizeSize, TrainingTransform.DecodeSize(TransformSpec.ForTraining(32)));
    }

    [Fact]
    public void TheBoxIsResizedAndThenFlipped()
    {
        // Scale and ratio fixed at 1: the box is the whole square image, so the result is the image resized to the crop
        // size (the evaluation path with resize = crop), mirrored when the flip draw (after the box) is below 0.5.
        var image = SyntheticPhotos.Render(64, 64, 9);
        var spec = TransformSpec.ForTraining(32) with { RandomResized = new RandomResizedCrop(1, 1, 1, 1) };
        var plain = new TransformSpec(32, 32, false, spec.Normalization);
        foreach (bool flip in new[] { false, true })
        {
            var rng = new ScriptedRandom([0.3, 0.7, flip ? 0.2 : 0.8], [0, 0]);
            var pixels = new float[spec.ElementCount];
            TrainingTransform.Apply(image, spec, rng, pixels);
            var expected = new float[spec.ElementCount];
            ImageTransform.Apply(image, plain, new Augmentation(flip, 0, 0), expected);
            Assert.Equal(expected, pixels);
        }
    }

    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(0.5, 0.4)]
    [InlineData(0.1, 1.5)]
    public void AnInvalidScaleRangeIsRefused(double min, double max) =>
        Assert.Throws<ArgumentException>(() => new RandomResizedCrop(min, max));
}

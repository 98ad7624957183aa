namespace Smile.Data;

/// <summary>A crop box in an image's pixels: columns Left .. Left + Width - 1, rows Top .. Top + Height - 1.</summary>
public readonly record struct CropBox(int Left, int Top, int Width, int Height);

/// <summary>
/// torchvision's <c>RandomResizedCrop</c> (TLlib's training crop): a box of a random fraction of the image's area in
/// [<see cref="MinScale"/>, <see cref="MaxScale"/>] and a random aspect ratio (width / height) log-uniform in
/// [<see cref="MinRatio"/>, <see cref="MaxRatio"/>], taken from the decoded image at full resolution and resized to the
/// crop size. <see cref="Draw"/> is <c>RandomResizedCrop.get_params</c>' algorithm with the draws from a seeded
/// <see cref="Random"/> (the loader's per-image one), so the same seed, epoch and index give the same box.
/// </summary>
public sealed record RandomResizedCrop
{
    /// <summary>Tries of a random box before the centre fallback (torchvision's 10).</summary>
    public const int Attempts = 10;

    /// <summary>torchvision's defaults: scale 0.08 to 1, ratio 3/4 to 4/3.</summary>
    public RandomResizedCrop(double minScale = 0.08, double maxScale = 1.0, double minRatio = 3.0 / 4.0, double maxRatio = 4.0 / 3.0)
    {
        if (!(minScale > 0 && minScale <= maxScale && maxScale <= 1))
            throw new ArgumentException($"the crop's area fraction must satisfy 0 < min <= max <= 1 (got {minScale} to {maxScale})", nameof(minScale));
        if (!(minRatio > 0 && minRatio <= maxRatio && double.IsFinite(maxRatio)))
            throw new ArgumentException($"the crop's aspect ratios must satisfy 0 < min <= max (got {minRatio} to {maxRatio})", nameof(minRatio));
        (MinScale, MaxScale, MinRatio, MaxRatio) = (minScale, maxScale, minRatio, maxRatio);
    }

    public double MinScale { get; }
    public double MaxScale { get; }
    public double MinRatio { get; }
    public double MaxRatio { get; }

    /// <summary>
    /// get_params: up to <see cref="Attempts"/> times, the target area (area * U(min, max scale)) and the aspect ratio
    /// (exp U(log min, log max ratio)) give w = round(sqrt(area * ratio)), h = round(sqrt(area / ratio)) (Python's
    /// round, half to even); the first box that fits gets a uniform top in 0..H-h and left in 0..W-w. Otherwise
    /// <see cref="Fallback"/>. Draws in torchvision's order: scale, ratio per attempt, then top, then left.
    /// </summary>
    public CropBox Draw(Random rng, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(rng);
        CheckSize(width, height);
        double area = (double)width * height;
        double logMin = Math.Log(MinRatio), logMax = Math.Log(MaxRatio);
        for (int attempt = 0; attempt < Attempts; attempt++)
        {
            double targetArea = area * Uniform(rng, MinScale, MaxScale);
            double aspect = Math.Exp(Uniform(rng, logMin, logMax));
            int w = RoundHalfEven(Math.Sqrt(targetArea * aspect));
            int h = RoundHalfEven(Math.Sqrt(targetArea / aspect));
            if (w > 0 && w <= width && h > 0 && h <= height)
            {
                int top = rng.Next(0, height - h + 1);
                int left = rng.Next(0, width - w + 1);
                return new CropBox(left, top, w, h);
            }
        }
        return Fallback(width, height);
    }

    /// <summary>get_params' fallback, a centred box: the whole image when its aspect ratio lies within the range,
    /// else the widest (or tallest) box of the nearest allowed ratio; offsets floor((W - w) / 2), floor((H - h) / 2).</summary>
    public CropBox Fallback(int width, int height)
    {
        CheckSize(width, height);
        double inRatio = (double)width / height;
        int w = width, h = height;
        if (inRatio < MinRatio) h = RoundHalfEven(w / MinRatio);
        else if (inRatio > MaxRatio) w = RoundHalfEven(h * MaxRatio);
        return new CropBox((width - w) / 2, (height - h) / 2, w, h);
    }

    /// <summary>The pixels of <paramref name="box"/> as an image of their own (PIL's <c>Image.crop</c>).</summary>
    public static RgbImage Cut(RgbImage image, CropBox box)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (box.Left < 0 || box.Top < 0 || box.Width < 1 || box.Height < 1 || box.Left + box.Width > image.Width || box.Top + box.Height > image.Height)
            throw new ArgumentException($"crop box {box} is outside the {image.Width}x{image.Height} image", nameof(box));
        var cut = new RgbImage(box.Width, box.Height);
        int rowBytes = box.Width * 3;
        for (int y = 0; y < box.Height; y++)
            Array.Copy(image.Pixels, ((long)(box.Top + y) * image.Width + box.Left) * 3, cut.Pixels, (long)y * rowBytes, rowBytes);
        return cut;
    }

    private static double Uniform(Random rng, double low, double high) => low + (high - low) * rng.NextDouble();

    private static int RoundHalfEven(double value) => (int)Math.Round(value, MidpointRounding.ToEven);

    private static void CheckSize(int width, int height)
    {
        if (width < 1 || height < 1) throw new ArgumentOutOfRangeException(nameof(width), $"image size must be positive (got {width}x{height})");
    }
}

using SkiaSharp;

namespace Smile.Data;

/// <summary>
/// Photograph-like JPEGs for benchmarks and tests: smooth illumination, textures at several scales,
/// edges and sensor-like noise, so that the JPEG carries real detail (flat colour would make decoding
/// and resampling look unrealistically cheap).
/// </summary>
public static class SyntheticPhotos
{
    public static RgbImage Render(int width, int height, int seed)
    {
        var image = new RgbImage(width, height);
        var rng = new Random(seed);
        double fx1 = 2 + rng.NextDouble() * 6, fy1 = 2 + rng.NextDouble() * 6, fx2 = 20 + rng.NextDouble() * 40, fy2 = 20 + rng.NextDouble() * 40;
        double phase = rng.NextDouble() * Math.PI * 2;
        double cx = width * (0.3 + 0.4 * rng.NextDouble()), cy = height * (0.3 + 0.4 * rng.NextDouble()), radius = Math.Min(width, height) * 0.25;
        var pixels = image.Pixels;
        for (int y = 0; y < height; y++)
        {
            double v = (double)y / height;
            for (int x = 0; x < width; x++)
            {
                double u = (double)x / width;
                double light = 0.55 + 0.35 * Math.Sin(fx1 * u + fy1 * v + phase);
                double texture = 0.12 * Math.Sin(fx2 * Math.PI * u) * Math.Cos(fy2 * Math.PI * v);
                bool inside = (x - cx) * (x - cx) + (y - cy) * (y - cy) < radius * radius; // an "object" with a sharp edge
                int o = (y * width + x) * 3;
                for (int c = 0; c < 3; c++)
                {
                    double tint = inside ? 0.25 + 0.2 * c : 0.8 - 0.25 * c;
                    double value = 255 * (light * tint + texture) + (rng.NextDouble() - 0.5) * 24;
                    pixels[o + c] = (byte)Math.Clamp((int)value, 0, 255);
                }
            }
        }
        return image;
    }

    /// <summary>
    /// A labelled synthetic data set (the demo's "built-in data"): each class has its own dominant colour
    /// and texture frequency, so that a network can learn it in a few hundred iterations.
    /// </summary>
    public static IReadOnlyList<string> WriteImageFolder(string root, int classes, int imagesPerClass, int seed, int size = 64)
    {
        var names = Enumerable.Range(0, classes).Select(c => $"class_{c:D2}").ToArray();
        var jobs = names.SelectMany((name, c) => Enumerable.Range(0, imagesPerClass).Select(i => (name, c, i))).ToArray();
        foreach (var name in names) Directory.CreateDirectory(Path.Combine(root, name));
        Parallel.ForEach(jobs, job =>
        {
            var image = Render(size, size, seed * 100_003 + job.c * 1009 + job.i);
            var rng = new Random(seed + job.c * 7919 + job.i);
            var pixels = image.Pixels;
            int channel = job.c % 3;
            double stripes = 2 + job.c / 3 * 3;
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    int o = (y * size + x) * 3;
                    double wave = 40 * Math.Sin(stripes * Math.PI * (x + y) / size + rng.NextDouble() * 0.2);
                    pixels[o + channel] = (byte)Math.Clamp(pixels[o + channel] * 0.5 + 110 + wave, 0, 255);
                }
            WriteJpeg(image, Path.Combine(root, job.name, $"{job.i:D4}.jpg"));
        });
        return names;
    }

    public static void WriteJpeg(RgbImage image, string path, int quality = 90)
    {
        using var bitmap = image.ToBitmap();
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, quality)
            ?? throw new InvalidOperationException($"{path}: JPEG encoding failed");
        using var file = File.Create(path);
        data.SaveTo(file);
    }
}

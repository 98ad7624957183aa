using System.Diagnostics;
using Smile.Data;

namespace Smile.Bench;

/// <summary>Throughput of Smile's decode + train transform, on one thread and on <c>workers</c> threads.</summary>
public sealed record DataThroughput(int Images, double SingleThreadPerSecond, int Workers, double AllWorkersPerSecond);

/// <summary>Measures the per-image training pipeline (decode, resize, flip, crop, normalise) as the loader runs it.</summary>
public static class DataBenchmark
{
    /// <summary>Writes <paramref name="count"/> photograph-like JPEGs of the given size; returns their paths.</summary>
    public static IReadOnlyList<string> GenerateJpegs(string dir, int width, int height, int count, int seed = 0)
    {
        Directory.CreateDirectory(dir);
        var paths = new string[count];
        Parallel.For(0, count, i =>
        {
            paths[i] = Path.Combine(dir, $"photo_{width}x{height}_{i:D3}.jpg");
            SyntheticPhotos.WriteJpeg(SyntheticPhotos.Render(width, height, seed * 1000 + i), paths[i]);
        });
        return paths;
    }

    public static DataThroughput Measure(IReadOnlyList<string> files, int imageSize, int workers, int repeats)
    {
        var spec = TransformSpec.ForTraining(imageSize);
        Run(files, spec, 1, 1); // warm-up: JIT, native library loading, page cache
        double single = Run(files, spec, 1, repeats);
        double all = Run(files, spec, workers, repeats);
        return new DataThroughput(files.Count * repeats, single, workers, all);
    }

    /// <summary>Images per second of decode + train transform into per-thread float buffers.</summary>
    private static double Run(IReadOnlyList<string> files, TransformSpec spec, int workers, int repeats)
    {
        int total = files.Count * repeats;
        var clock = Stopwatch.StartNew();
        Parallel.For(0, total, new ParallelOptions { MaxDegreeOfParallelism = workers },
            () => new float[3 * spec.CropSize * spec.CropSize],
            (i, _, buffer) =>
            {
                var image = ImageDecoder.Decode(files[i % files.Count], spec.ResizeSize, spec.ResizeSize);
                var augmentation = Augmentation.Draw(new Random(i), spec);
                ImageTransform.Apply(image, spec, augmentation, buffer);
                return buffer;
            },
            _ => { });
        return total / clock.Elapsed.TotalSeconds;
    }
}

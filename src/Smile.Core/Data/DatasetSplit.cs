namespace Smile.Data;

/// <summary>How much of each class's training part a subset keeps: a number of images or a fraction.</summary>
public sealed record SubsetSize(int? PerClass = null, double? Fraction = null)
{
    /// <summary>How many of <paramref name="available"/> images to keep (at least one of a class that has any).</summary>
    public int Of(int available) => PerClass is int n ? Math.Min(n, available)
        : Fraction is double f ? Math.Clamp((int)Math.Round(f * available, MidpointRounding.AwayFromZero), 1, available)
        : available;
}

/// <summary>
/// A stratified, seeded split of a dataset into a training and a validation part (`smile split`), with an optional
/// subset of the training part (the 15/30/50% protocols of the fine-grained benchmarks). Each class's images, sorted by
/// path, are put in one seeded order (<see cref="ValidationSplit.ClassOrder"/>): the first round(fraction * count)
/// are held out (at least one, at least one left: what a run's own held-out split takes with the same seed), and the
/// subset is the next images of that order, so with one seed a smaller subset is part of every larger one. A class
/// with a single image keeps it for training.
/// </summary>
public static class DatasetSplit
{
    public sealed record Result(ImageFolder Train, ImageFolder? Validation, int TrainingPartCount, IReadOnlyList<string> Notes);

    public static Result Split(ImageFolder data, double valFraction, int seed, SubsetSize? subset = null)
    {
        if (!(valFraction >= 0 && valFraction < 1)) throw new ArgumentOutOfRangeException(nameof(valFraction), "the validation fraction must be in [0, 1)");
        if (subset is { PerClass: < 1 } or { Fraction: not null and (<= 0 or > 1 or double.NaN) })
            throw new ArgumentOutOfRangeException(nameof(subset), "a subset keeps at least one image per class and at most all of them");
        var train = new List<ImageSample>();
        var validation = new List<ImageSample>();
        var notes = new List<string>();
        int trainingPart = 0;
        foreach (var group in data.Samples.GroupBy(s => s.Label))
        {
            var samples = group.ToArray(); // sorted by path
            string name = data.Classes[group.Key];
            int held = 0;
            if (valFraction > 0)
            {
                if (samples.Length >= 2) held = ValidationSplit.HeldOutCount(valFraction, samples.Length);
                else notes.Add($"class '{name}' has 1 image: kept for training, none held out");
            }
            var order = ValidationSplit.ClassOrder(seed, group.Key, samples.Length);
            foreach (int i in order.Take(held)) validation.Add(samples[i]);
            int available = samples.Length - held;
            trainingPart += available;
            int keep = subset?.Of(available) ?? available;
            if (subset?.PerClass is int perClass && available < perClass)
                notes.Add($"class '{name}' has {available} training image{(available == 1 ? "" : "s")}, fewer than {perClass}: all kept");
            foreach (int i in order.Skip(held).Take(keep)) train.Add(samples[i]);
        }
        return new Result(data.Subset(train), valFraction > 0 ? data.Subset(validation) : null, trainingPart, notes);
    }
}

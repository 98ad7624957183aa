using Serilog;

namespace Smile.Data;

/// <summary>
/// A seeded, stratified hold-out of a training folder (`--val_split`): from every class, round(fraction *
/// count) images (at least one, and at least one left for training) go to validation. The draw depends only
/// on the seed, the class and the class's sorted file list, so a resumed run and a later `smile test` on the
/// same split see the same images.
/// </summary>
public static class ValidationSplit
{
    public static (ImageFolder Train, ImageFolder Validation) Split(ImageFolder folder, double fraction, int seed)
    {
        if (!(fraction > 0 && fraction < 1)) throw new ArgumentOutOfRangeException(nameof(fraction), "the validation fraction must be in (0, 1)");
        var train = new List<ImageSample>();
        var validation = new List<ImageSample>();
        foreach (var group in folder.Samples.GroupBy(s => s.Label))
        {
            var samples = group.ToArray(); // sorted by path already
            if (samples.Length < 2)
                throw new DataException($"{folder.Root}: class '{folder.Classes[group.Key]}' has {samples.Length} image; `val_split` needs at least 2 per class");
            int held = HeldOutCount(fraction, samples.Length);
            var heldOut = ClassOrder(seed, group.Key, samples.Length).Take(held).ToHashSet();
            for (int i = 0; i < samples.Length; i++) (heldOut.Contains(i) ? validation : train).Add(samples[i]);
        }
        return (folder.Subset(train), folder.Subset(validation));
    }

    /// <summary>How many of a class's <paramref name="count"/> (at least 2) images a fraction holds out: round(fraction *
    /// count), at least one, and at least one left for training.</summary>
    public static int HeldOutCount(double fraction, int count) =>
        Math.Clamp((int)Math.Round(fraction * count, MidpointRounding.AwayFromZero), 1, count - 1);

    /// <summary>The seeded order of a class's images (indices into its path-sorted samples): the first
    /// <see cref="HeldOutCount"/> are held out. `smile split` draws from the same order, so its lists hold out what
    /// the run's own split would.</summary>
    public static int[] ClassOrder(int seed, int label, int count)
    {
        var order = Enumerable.Range(0, count).ToArray();
        new Random(SampleRandom.Seed(seed, label, 0x7A1)).Shuffle(order);
        return order;
    }

    /// <summary>
    /// The validation set a run asks for: a seeded hold-out of <paramref name="train"/> (<paramref name="fraction"/> > 0),
    /// a separate folder read against its classes, or none. The two are alternatives (<paramref name="folderSetting"/>
    /// names the folder's setting in the error); what was chosen and the folder's warnings are logged.
    /// </summary>
    public static (ImageFolder Train, ImageFolder? Validation) Choose(ImageFolder train, double fraction, string? folder, string folderSetting, int seed, ILogger log)
    {
        if (fraction > 0)
        {
            if (folder is not null) throw new DataException($"`val_split` and `{folderSetting}` are alternatives: with `val_split` the held-out part is the validation set");
            var (rest, validation) = Split(train, fraction, seed);
            log.Information("Validation split: {Val} of the training folder's images held out ({Fraction:P0} per class, seed {Seed}); {Train} left for training",
                validation.Samples.Count, fraction, seed, rest.Samples.Count);
            return (rest, validation);
        }
        if (folder is null) return (train, null);
        return Choose(train, 0, new FolderSource(folder), seed, log);
    }

    /// <summary>As the other overload, the separate set being a folder or a list (<see cref="DatasetSource"/>).</summary>
    public static (ImageFolder Train, ImageFolder? Validation) Choose(ImageFolder train, double fraction, DatasetSource? separateSet, int seed, ILogger log)
    {
        if (fraction > 0)
        {
            if (separateSet is not null)
                throw new DataException($"a held-out fraction of the training set and a separate validation set ({separateSet.Location}) are alternatives");
            return Choose(train, fraction, null, "", seed, log);
        }
        if (separateSet is null) return (train, null);
        var separate = separateSet.ForEvaluation(train.Classes);
        foreach (var warning in separate.Warnings) log.Warning("{Warning}", warning);
        return (train, separate);
    }
}

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
            int held = Math.Clamp((int)Math.Round(fraction * samples.Length, MidpointRounding.AwayFromZero), 1, samples.Length - 1);
            var order = Enumerable.Range(0, samples.Length).ToArray();
            new Random(SampleRandom.Seed(seed, group.Key, 0x7A1)).Shuffle(order);
            var heldOut = order.Take(held).ToHashSet();
            for (int i = 0; i < samples.Length; i++) (heldOut.Contains(i) ? validation : train).Add(samples[i]);
        }
        return (folder.Subset(train), folder.Subset(validation));
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
        var separate = ImageFolder.ForEvaluation(folder, train.Classes);
        foreach (var warning in separate.Warnings) log.Warning("{Warning}", warning);
        return (train, separate);
    }
}

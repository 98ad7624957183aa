using Serilog;
using Smile.Data;

namespace Smile.WeakShot;

/// <summary>The folders of a SimNet run: the clean base classes to train on, their held-out part (or
/// --val_dir), and the novel web images of the adversarial option.</summary>
public sealed record SimNetData(ImageFolder Train, ImageFolder? Validation, ImageFolder? Web)
{
    public static SimNetData Load(SimNetOptions o, ILogger log)
    {
        var train = ImageFolder.ForTraining(o.BaseDir);
        foreach (var warning in train.Warnings) log.Warning("{Warning}", warning);
        // One class gives only positive pairs: nothing to tell apart.
        if (train.Classes.Count < 2) throw new DataException($"{train.Root}: {train.Classes.Count} class; SimNet pairs need at least 2 base classes");
        var (rest, validation) = ValidationSplit.Choose(train, o.ValSplit, o.ValDir, "val_dir", o.Seed, log);
        if (validation is null) log.Warning("No validation set: no pair F1, no _Best; the last SimNet is the result");

        ImageFolder? web = null;
        if (o.Adversarial)
        {
            if (o.WebDir is null) throw new DataException("`adversarial_weight` > 0 needs `web_dir`: the web images the discriminator tells from base pairs");
            web = ImageFolder.ForTraining(o.WebDir);
            foreach (var warning in web.Warnings) log.Warning("{Warning}", warning);
            var shared = web.Classes.Intersect(train.Classes, StringComparer.Ordinal).Take(3).ToList();
            // Base and novel classes are disjoint in SimTrans's setting; a shared name is likely a wrong folder.
            if (shared.Count > 0) log.Warning("The web images share class names with the base classes ({Classes}); base and novel classes should be disjoint", string.Join(", ", shared));
        }
        else if (o.WebDir is not null) log.Warning("The web images are used only by the adversarial term (weight 0 here): ignored");
        return new SimNetData(rest, validation, web);
    }
}

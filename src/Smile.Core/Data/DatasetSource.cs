namespace Smile.Data;

/// <summary>
/// Where a dataset's images and labels come from: an ImageFolder root (<see cref="FolderSource"/>) or a list file
/// (<see cref="ImageListSource"/>). Both give the same <see cref="ImageFolder"/> (paths, labels, class names, samples
/// sorted by label then path), so the loader, the splits and the checkpoints do not know which one it was.
/// </summary>
public abstract record DatasetSource
{
    /// <summary>A training set: it defines the classes, and every class must hold images.</summary>
    public abstract ImageFolder ForTraining();

    /// <summary>An evaluation set read against a model's classes, matched by name; classes may be missing.</summary>
    public abstract ImageFolder ForEvaluation(IReadOnlyList<string> classes);

    /// <summary>The folder or list file, for messages and the run's recorded arguments.</summary>
    public abstract string Location { get; }
}

/// <summary>An ImageFolder root: one subfolder per class.</summary>
public sealed record FolderSource(string Root) : DatasetSource
{
    public override ImageFolder ForTraining() => ImageFolder.ForTraining(Root);
    public override ImageFolder ForEvaluation(IReadOnlyList<string> classes) => ImageFolder.ForEvaluation(Root, classes);
    public override string Location => Root;
}

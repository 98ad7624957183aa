namespace Smile.Data;

/// <summary>
/// A dataset given as a list file (<see cref="ImageListFile"/>): relative paths are read from
/// <paramref name="DataRoot"/>, by default the list file's own folder. Class names come from
/// <paramref name="ClassesFile"/> (<see cref="ClassNamesFile"/>: line i + 1 names label i) when given; otherwise from
/// the list itself: class names (a CSV "class" column) are sorted ordinally, as ImageFolder sorts its class folders, so a
/// list of a folder's images gives that folder's labels; class indices are named by their numbers, "0" to the largest
/// listed ("10" after "9", not after "1": label i stays class i).
/// <para>The samples are sorted as ImageFolder sorts them (by label, then path), so a list of a folder's images gives the
/// same loader order, batches and weights as the folder. An image listed twice (the same full path) is an error: it would
/// silently count twice, or contradict itself when its labels differ.</para>
/// </summary>
public sealed record ImageListSource(string ListFile, string? DataRoot = null, string? ClassesFile = null) : DatasetSource
{
    /// <summary>The folder relative paths are read from.</summary>
    public string Root => Path.GetFullPath(DataRoot ?? Path.GetDirectoryName(Path.GetFullPath(ListFile))!);

    public override string Location => ListFile;

    public override ImageFolder ForTraining()
    {
        var list = Resolve();
        var counts = new int[list.Classes.Count];
        foreach (var s in list.Samples) counts[s.Label]++;
        for (int label = 0; label < counts.Length; label++)
            if (counts[label] == 0)
                throw new DataException($"{ListFile}: class '{list.Classes[label]}' has no images ({list.NamesFrom}); a class with no training image cannot be learnt");
        return ImageFolder.FromSamples(Path.GetFullPath(ListFile), list.Classes, list.Samples);
    }

    public override ImageFolder ForEvaluation(IReadOnlyList<string> classes)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < classes.Count; i++)
            if (!index.TryAdd(classes[i], i)) throw new ArgumentException($"class '{classes[i]}' appears twice in the class list", nameof(classes));
        var list = Resolve();
        var toModel = new int[list.Classes.Count];
        for (int label = 0; label < toModel.Length; label++)
            toModel[label] = index.TryGetValue(list.Classes[label], out int i) ? i : -1;
        var samples = new List<ImageSample>(list.Samples.Count);
        for (int k = 0; k < list.Samples.Count; k++)
        {
            var s = list.Samples[k];
            if (toModel[s.Label] < 0)
            {
                string name = list.Classes[s.Label];
                var hint = ClassNamesFile.CaseHint(classes, name);
                if (hint.Length == 0 && list.NumberedClasses) hint = " (without a classes file a class index is named by its number)";
                throw new DataException($"{ListFile} line {list.Lines[k]}: class '{name}' is not one of the model's {classes.Count} classes{hint}");
            }
            samples.Add(new ImageSample(s.Path, toModel[s.Label]));
        }
        return ImageFolder.FromSamples(Path.GetFullPath(ListFile), classes, samples);
    }

    /// <summary>The listed images' full paths in the file's order, every line checked as for a dataset (`smile predict`).</summary>
    public IReadOnlyList<string> Images() => Resolve().Samples.Select(s => s.Path).ToList();

    /// <summary>The list's own classes and its samples (labels into them) in the file's order, with each sample's line.</summary>
    private sealed record Resolved(IReadOnlyList<string> Classes, List<ImageSample> Samples, List<int> Lines, string NamesFrom, bool NumberedClasses);

    private Resolved Resolve()
    {
        var file = ImageListFile.Read(ListFile);
        if (file.Entries.Count == 0) throw new DataException($"{ListFile}: the list is empty (no image listed)");
        var names = ClassesFile is null ? null : ClassNamesFile.Read(ClassesFile);
        string root = Root;
        IReadOnlyList<string> classes;
        Func<ImageListEntry, int> labelOf;
        if (file.NamedClasses && names is not null)
        {
            classes = names.Names;
            labelOf = e => names.TryLabelOf(e.ClassName!, out int label) ? label
                : throw new DataException($"{ListFile} line {e.Line}: class '{e.ClassName}' is not in {ClassesFile} ({names.Names.Count} classes){ClassNamesFile.CaseHint(names.Names, e.ClassName!)}");
        }
        else if (file.NamedClasses)
        {
            var sorted = file.Entries.Select(e => e.ClassName!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            var index = sorted.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => p.i, StringComparer.Ordinal);
            classes = sorted;
            labelOf = e => index[e.ClassName!];
        }
        else if (names is not null)
        {
            classes = names.Names;
            labelOf = e => e.Label < names.Names.Count ? e.Label.Value
                : throw new DataException($"{ListFile} line {e.Line}: label {e.Label} is out of range: {ClassesFile} names {names.Names.Count} classes (labels 0 to {names.Names.Count - 1})");
        }
        else
        {
            int max = file.Entries.Max(e => e.Label!.Value);
            classes = Enumerable.Range(0, max + 1).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
            labelOf = e => e.Label!.Value;
        }

        var samples = new List<ImageSample>(file.Entries.Count);
        var lines = new List<int>(file.Entries.Count);
        var lineOf = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in file.Entries)
        {
            int label = labelOf(entry);
            string path = FullPath(root, entry);
            if (!lineOf.TryAdd(path, entry.Line))
                throw new DataException($"{ListFile} line {entry.Line}: {path} is listed twice (first on line {lineOf[path]})");
            samples.Add(new ImageSample(path, label));
            lines.Add(entry.Line);
        }
        string namesFrom = names is not null ? $"named by {ClassesFile}" : file.NamedClasses ? "the list's class names" : $"labels 0 to {classes.Count - 1}";
        return new Resolved(classes, samples, lines, namesFrom, NumberedClasses: names is null && !file.NamedClasses);
    }

    private string FullPath(string root, ImageListEntry entry)
    {
        string path;
        try { path = Path.GetFullPath(Path.Combine(root, entry.PathText)); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new DataException($"{ListFile} line {entry.Line}: '{ImageListFile.Shorten(entry.PathText)}' is not a valid path ({e.Message})");
        }
        if (Directory.Exists(path)) throw new DataException($"{ListFile} line {entry.Line}: {path} is a folder, not an image");
        if (!File.Exists(path)) throw new DataException($"{ListFile} line {entry.Line}: image not found: {path}");
        return path;
    }
}

using System.CommandLine;
using Smile.Data;

namespace Smile.Cli;

/// <summary>
/// The dataset flags of a verb. Each dataset is a pair of alternatives, `--X_dir` (an ImageFolder) or `--X_list` (a list
/// file, <see cref="ImageListSource"/>), of which exactly one is given; --data_root and --classes apply to every list of
/// the verb and are refused when it reads none. Only the flags are checked here: the list's lines are read by Smile.Core,
/// whose errors name the file and line.
/// </summary>
internal sealed class DatasetFlags
{
    private readonly List<Option<string?>> lists = [];

    public Option<string?> DataRoot { get; } = Flags.Optional<string>("data_root",
        "Folder the relative image paths of the list files are read from (default: each list file's own folder).");
    public Option<string?> Classes { get; } = Flags.Optional<string>("classes",
        "Class names of the list files, one a line, the first naming label 0 (default: a CSV's class names sorted, or the labels' numbers).");

    /// <summary>--data_root and --classes, to add to the verb.</summary>
    public IEnumerable<Option> Shared => [DataRoot, Classes];

    /// <summary>A `--X_list` flag of the verb.</summary>
    public Option<string?> List(string snakeName, string description)
    {
        var option = Flags.Optional<string>(snakeName, description);
        lists.Add(option);
        return option;
    }

    /// <summary>The shared flags, checked; <paramref name="readsList"/> says whether the verb reads a list (by
    /// default: whether one of its list flags was given).</summary>
    public Reader Read(ParseResult parse, bool? readsList = null)
    {
        bool anyList = readsList ?? lists.Any(o => parse.GetValue(o) is not null);
        string? root = parse.GetValue(DataRoot), classes = parse.GetValue(Classes);
        string forLists = lists.Count == 0 ? "is for a list file, and none is read" : $"is for list files ({string.Join(", ", lists.Select(o => o.Name))}), and none is read";
        Flags.Require(anyList || root is null, "data_root", forLists);
        Flags.Require(anyList || classes is null, "classes", forLists);
        return new Reader(root is null ? null : Flags.ExistingDirectory(root, "data_root"), classes is null ? null : Flags.ExistingFile(classes, "classes"), parse);
    }

    /// <summary>Reads a run's lists once before it starts, so that a bad line stops it before anything is written (the run
    /// reads them again; a run of folders only is left to find its folders' problems itself, as before lists existed).</summary>
    public static void CheckLists(DatasetSource train, DatasetSource? eval)
    {
        if (train is not ImageListSource && eval is not ImageListSource) return;
        var classes = train.ForTraining().Classes;
        eval?.ForEvaluation(classes);
    }

    internal sealed record Reader(string? DataRoot, string? ClassesFile, ParseResult Parse)
    {
        /// <summary>The dataset of a pair that must be given.</summary>
        public DatasetSource Required(Option<string?> dir, Option<string?> list) =>
            Optional(dir, list) ?? throw new UsageException($"{dir.Name}: is required (or {list.Name})");

        /// <summary>The dataset of a pair, or null when neither flag was given.</summary>
        public DatasetSource? Optional(Option<string?> dir, Option<string?> list)
        {
            string? folder = Parse.GetValue(dir), file = Parse.GetValue(list);
            if (folder is not null && file is not null) throw new UsageException($"{dir.Name} and {list.Name} are alternatives: give one");
            if (folder is not null) return new FolderSource(Flags.ExistingDirectory(folder, dir.Name[2..]));
            return file is null ? null : ListFile(file, list.Name[2..], dir.Name);
        }

        /// <summary>A list file given to <paramref name="flag"/>; <paramref name="folderFlag"/> is where a folder goes.</summary>
        public ImageListSource ListFile(string path, string flag, string folderFlag)
        {
            Flags.Require(!string.IsNullOrWhiteSpace(path), flag, "is empty: give a list file");
            Flags.Require(!Directory.Exists(path), flag, $"{Path.GetFullPath(path)} is a folder, not a list file (a folder goes to {folderFlag})");
            return new ImageListSource(Flags.ExistingFile(path, flag), DataRoot, ClassesFile);
        }
    }
}

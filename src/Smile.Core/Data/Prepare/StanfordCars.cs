using System.Globalization;
using Smile.Data.Prepare.MatFile;

namespace Smile.Data.Prepare;

/// <summary>
/// Stanford Cars (Krause, Stark, Deng, Fei-Fei 2013; 196 classes, 8,144 train / 8,041 test images) from its
/// devkit's MATLAB annotations to ImageFolders: cars_meta.mat holds the class names, cars_train_annos.mat and
/// cars_test_annos_withlabels.mat one record per image (bounding box, 1-based class, file name). Images are
/// linked under their own file names from cars_train/ and cars_test/.
/// </summary>
public static class StanfordCars
{
    public const string MetaFile = "cars_meta.mat";
    public const string TrainAnnotationsFile = "cars_train_annos.mat";
    public const string TestAnnotationsFile = "cars_test_annos_withlabels.mat";

    // Characters that are unsafe in a folder name on some file system (Windows' set, which includes '/').
    private static readonly char[] Unsafe = ['/', '\\', ':', '*', '?', '"', '<', '>', '|'];

    public static ImageFolderPlan Plan(string sourceFolder)
    {
        var classes = ClassFolderNames(FindMat(sourceFolder, MetaFile));
        var plan = new ImageFolderPlan();
        AddSplit(plan, "train", FindMat(sourceFolder, TrainAnnotationsFile), Path.Combine(sourceFolder, "cars_train"), classes);
        AddSplit(plan, "test", FindMat(sourceFolder, TestAnnotationsFile), Path.Combine(sourceFolder, "cars_test"), classes);
        return plan;
    }

    /// <summary>"007_BMW M3 Coupe 2012": the 1-based label first, zero-padded so that ImageFolder's ordinal sort
    /// keeps the official label order, then the name with unsafe characters replaced ("Ram C/V" -> "Ram C-V").</summary>
    public static string FolderName(int label, int classCount, string className)
    {
        var chars = className.Trim().Select(ch => char.IsControl(ch) || Unsafe.Contains(ch) ? '-' : ch).ToArray();
        // Windows drops trailing dots and spaces from folder names; none of the official names has one.
        string safe = new string(chars).TrimEnd('.', ' ');
        int width = Math.Max(3, classCount.ToString(CultureInfo.InvariantCulture).Length);
        return $"{label.ToString(CultureInfo.InvariantCulture).PadLeft(width, '0')}_{safe}";
    }

    private static string[] ClassFolderNames(string metaPath)
    {
        var names = MatFileReader.Read(metaPath).Get<MatCell>("class_names");
        var folders = new string[names.Count];
        var seen = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < names.Count; i++)
        {
            if (names[i] is not MatChar { Rows.Count: 1 } name || name.Text.Trim().Length == 0)
                throw new DataException($"{metaPath}: class_names{{{i + 1}}} is a {names[i].Describe()}, not a class name");
            folders[i] = FolderName(i + 1, names.Count, name.Text);
            // The label prefix alone keeps folders apart; the names must too, or two classes would read alike.
            string readable = folders[i][(folders[i].IndexOf('_') + 1)..];
            if (!seen.TryAdd(readable, i + 1))
                throw new DataException($"{metaPath}: class_names{{{seen[readable]}}} and class_names{{{i + 1}}} both become '{readable}' in a folder name");
        }
        if (folders.Length == 0) throw new DataException($"{metaPath}: class_names is empty");
        return folders;
    }

    private static void AddSplit(ImageFolderPlan plan, string split, string annotationsPath, string imageFolder, string[] classes)
    {
        var records = MatFileReader.Read(annotationsPath).Get<MatStruct>("annotations");
        foreach (var field in new[] { "class", "fname" })
            if (!records.HasField(field))
                throw new DataException($"{annotationsPath}: the annotations have no field '{field}' (fields: {string.Join(", ", records.FieldNames)})" +
                    (field == "class" ? "; the test split needs the labelled cars_test_annos_withlabels.mat" : ""));
        var fileNames = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < records.Count; i++)
        {
            string record = $"{annotationsPath}: annotations({i + 1})";
            if (records[i, "fname"] is not MatChar { Rows.Count: 1 } fnameValue)
                throw new DataException($"{record}: fname is a {records[i, "fname"].Describe()}, not a file name");
            string fname = fnameValue.Text;
            record += $" (fname '{fname}')";
            if (fname.Length == 0 || fname is "." or ".." || fname.IndexOfAny(['/', '\\', '\0']) >= 0)
                throw new DataException($"{record}: not a plain file name");
            if (!fileNames.Add(fname))
                throw new DataException($"{record}: the file name appears twice in the annotations");
            if (records[i, "class"] is not MatNumeric { Count: 1 } classValue)
                throw new DataException($"{record}: class is a {records[i, "class"].Describe()}, not a number");
            double label = classValue[0];
            if (label != Math.Floor(label) || label < 1 || label > classes.Length)
                throw new DataException($"{record}: class {label.ToString(CultureInfo.InvariantCulture)} is not a label 1..{classes.Length} of {MetaFile}");
            string image = Path.Combine(imageFolder, fname);
            if (!File.Exists(image)) throw new DataException($"{record}: image {image} not found");
            plan.AddFile(split, classes[(int)label - 1], fname, image);
        }
        if (records.Count == 0) throw new DataException($"{annotationsPath}: the annotations hold no records");
    }

    /// <summary>The devkit file in the source folder or its devkit/ (the test labels come separately and are
    /// unpacked beside the devkit or into it).</summary>
    private static string FindMat(string sourceFolder, string name)
    {
        string[] places = [sourceFolder, Path.Combine(sourceFolder, "devkit")];
        foreach (var folder in places)
        {
            string path = Path.Combine(folder, name);
            if (File.Exists(path)) return path;
        }
        string hint = name == TestAnnotationsFile && places.Any(p => File.Exists(Path.Combine(p, "cars_test_annos.mat")))
            ? " (the devkit's cars_test_annos.mat has no labels; the labelled file comes separately)" : "";
        throw new DataException($"Stanford Cars file {name} not found in {places[0]} or {places[1]}{hint}");
    }
}

namespace Smile.Data.Prepare;

/// <summary>
/// Caltech-UCSD Birds-200-2011 (Wah et al. 2011) from the official CUB_200_2011 folder to train/ and test/
/// ImageFolders of hard-linked JPEGs: the official split (5,994 train / 5,794 test images of 200 classes),
/// class folders named as in classes.txt ("001.Black_footed_Albatross"), whose numeric prefix keeps the
/// official class order under ImageFolder's ordinal sort.
/// </summary>
public static class Cub
{
    public static ImageFolderPlan Plan(string sourceFolder)
    {
        var images = IdValueFile.Read(Path.Combine(sourceFolder, "images.txt"));
        var labels = IdValueFile.Read(Path.Combine(sourceFolder, "image_class_labels.txt"));
        var splits = IdValueFile.Read(Path.Combine(sourceFolder, "train_test_split.txt"));
        var classes = IdValueFile.Read(Path.Combine(sourceFolder, "classes.txt"));
        foreach (var line in classes.Lines)
            if (!IsFolderName(line.Value)) throw classes.Error(line.Line, $"class name '{line.Value}' cannot be a folder name");
        // The three per-image files must describe the same images: a missing id would silently drop an image.
        images.RequireSameIds(labels);
        images.RequireSameIds(splits);

        string imageRoot = Path.Combine(sourceFolder, "images");
        var plan = new ImageFolderPlan();
        foreach (var image in images.Lines)
        {
            // The path stays inside images/: a hand-edited index must not link files from elsewhere.
            string relative = image.Value;
            if (Path.IsPathRooted(relative) || relative.Split('/', '\\').Any(part => part is "" or "." or ".."))
                throw images.Error(image.Line, $"'{relative}' is not a relative path inside images/");

            labels.TryGet(image.Id, out var label);
            if (!classes.TryGet(label.Value, out var className))
                throw labels.Error(label.Line, $"unknown class {label.Value} (not in {classes.Path})");

            splits.TryGet(image.Id, out var split);
            string splitName = split.Value switch
            {
                "1" => "train",
                "0" => "test",
                _ => throw splits.Error(split.Line, $"malformed line, expected 1 (train) or 0 (test) after the id, got '{split.Value}'"),
            };
            plan.AddFile(splitName, className.Value, Path.GetFileName(relative), Path.Combine(imageRoot, relative));
        }
        return plan;
    }

    private static bool IsFolderName(string name) => name is not ("." or "..") && name.IndexOfAny(['/', '\\', '\0']) < 0;
}

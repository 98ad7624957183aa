using Smile.Data;

namespace Smile.Tests.Data;

/// <summary>List files (<see cref="ImageListSource"/>): both formats, where class names come from, the sample order a
/// folder of the same images has, and an error naming the file and line for every kind of bad line.</summary>
public sealed class ImageListTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("smile-list-");
    private string Root => _temp.FullName;

    public void Dispose() => _temp.Delete(recursive: true);

    /// <summary>An (empty) image file below the root; lists, like folders, look at paths only.</summary>
    private string Touch(string relative)
    {
        var path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, [1]);
        return path;
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(Root, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private static (string Path, int Label)[] Pairs(ImageFolder data) => data.Samples.Select(s => (s.Path, s.Label)).ToArray();

    [Fact]
    public void AnImageListGivesTheFolderOfTheSameImagesSamplesInTheSameOrder()
    {
        foreach (var f in new[] { "d/bee/2.jpg", "d/bee/10.jpg", "d/ant/b.jpg", "d/ant/a b.jpg", "d/cat/x.jpg" }) Touch(f);
        var folder = ImageFolder.ForTraining(Path.Combine(Root, "d"));
        // Unsorted, with a path holding a space, a tab before a label, blank lines and CRLF ends.
        var list = Write("d/list.txt", "cat/x.jpg 2\r\nbee/2.jpg 1\r\n\r\nant/a b.jpg\t0\r\nbee/10.jpg   1\r\nant/b.jpg 0\r\n  \r\n");
        var classes = Write("d/classes.txt", "ant\nbee\ncat\n\n");
        var data = new ImageListSource(list, ClassesFile: classes).ForTraining();
        Assert.Equal(folder.Classes, data.Classes);
        Assert.Equal(Pairs(folder), Pairs(data));
        Assert.Equal(list, data.Root);
        Assert.Equal([2, 2, 1], Enumerable.Range(0, 3).Select(data.CountOf));
    }

    [Fact]
    public void ACsvOfClassNamesSortsThemAsAFolderSortsItsClassFolders()
    {
        foreach (var f in new[] { "img/B/1.jpg", "img/a/1.jpg", "img/10/1.jpg", "img/9/1.jpg", "img/9/2.jpg" }) Touch(f);
        var folder = ImageFolder.ForTraining(Path.Combine(Root, "img"));
        var csv = Write("meta/train.csv", "Path , Class,source\n\"img/a/1.jpg\",a,web\nimg/9/2.jpg,9,x\nimg/B/1.jpg,B,x\n\nimg/10/1.jpg,10,x\nimg/9/1.jpg,9,x\n");
        var data = new ImageListSource(csv, DataRoot: Root).ForTraining(); // relative to --data_root, not to meta/
        Assert.Equal(["10", "9", "B", "a"], data.Classes);
        Assert.Equal(Pairs(folder), Pairs(data));
    }

    [Fact]
    public void ClassIndicesWithoutAClassesFileAreNamedByTheirNumbersInLabelOrder()
    {
        var text = string.Join("\n", Enumerable.Range(0, 11).Select(i => $"{Path.GetFileName(Touch($"i/{i}.jpg"))} {10 - i}"));
        var data = new ImageListSource(Write("i/list.txt", text)).ForTraining();
        Assert.Equal(Enumerable.Range(0, 11).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), data.Classes);
        Assert.Equal(Path.Combine(Root, "i", "10.jpg"), data.Samples[0].Path); // label 0
        Assert.Equal(10, data.Samples[^1].Label);
        Assert.Equal(Path.Combine(Root, "i", "0.jpg"), data.Samples[^1].Path);
    }

    [Fact]
    public void ACsvOfLabelsReadsAbsolutePathsAsTheyAre()
    {
        string a = Touch("x/a.jpg"), b = Touch("x/b.jpg");
        var data = new ImageListSource(Write("elsewhere/l.csv", $"label,path\n1,{a}\n0,{b}\n"), ClassesFile: Write("c.txt", "zero\none\n")).ForTraining();
        Assert.Equal(["zero", "one"], data.Classes);
        Assert.Equal([(b, 0), (a, 1)], Pairs(data));
    }

    [Fact]
    public void AnEvaluationListIsMatchedToTheModelsClassesByName()
    {
        Touch("e/1.jpg");
        Touch("e/2.jpg");
        var list = Write("e/test.csv", "path,class\n1.jpg,cat\n2.jpg,ant\n");
        var data = new ImageListSource(list).ForEvaluation(["ant", "bee", "cat"]);
        Assert.Equal(["ant", "bee", "cat"], data.Classes);
        Assert.Equal([(Path.Combine(Root, "e", "2.jpg"), 0), (Path.Combine(Root, "e", "1.jpg"), 2)], Pairs(data));

        var unknown = Assert.Throws<DataException>(() => new ImageListSource(list).ForEvaluation(["ant", "Cat"]));
        Assert.Equal($"{list} line 2: class 'cat' is not one of the model's 2 classes (did you mean 'Cat'? class names are case-sensitive)", unknown.Message);
        var numbered = Write("e/test.txt", "1.jpg 0\n2.jpg 1\n");
        var byNumber = Assert.Throws<DataException>(() => new ImageListSource(numbered).ForEvaluation(["ant", "bee"]));
        Assert.Equal($"{numbered} line 1: class '0' is not one of the model's 2 classes (without a classes file a class index is named by its number)", byNumber.Message);
    }

    public static TheoryData<string, string, string?, string> BadLists => new()
    {
        // file name, its text, classes file text (null: none), the message after the file's path
        { "l.txt", "a.jpg 0\nb.jpg\n", null, " line 2: expected 'path label' (an image path, a space, a class index), found 'b.jpg'" },
        { "l.txt", "a.jpg 0\n\nb.jpg one\n", null, " line 3: label 'one' is not a class index (a whole number, 0 or more; class names go in a CSV list with the header path,class)" },
        { "l.txt", "a.jpg -1\n", null, " line 1: label '-1' is not a class index (a whole number, 0 or more; class names go in a CSV list with the header path,class)" },
        { "l.txt", "a.jpg 99999999999\n", null, " line 1: label '99999999999' is not a class index (a whole number, 0 or more; class names go in a CSV list with the header path,class)" },
        { "l.txt", "a.jpg 0\nb.jpg 2\n", "x\ny\n", " line 2: label 2 is out of range: {classes} names 2 classes (labels 0 to 1)" },
        { "l.csv", "path,class\na.jpg,x\nb.jpg,z\n", "x\ny\n", " line 3: class 'z' is not in {classes} (2 classes)" },
        { "l.txt", "a.jpg 0\nmissing.jpg 0\n", null, " line 2: image not found: {root}/missing.jpg" },
        { "l.txt", "a.jpg 0\nsub 0\n", null, " line 2: {root}/sub is a folder, not an image" },
        { "l.txt", "a.jpg 0\nb.jpg 0\n./a.jpg 1\n", null, " line 3: {root}/a.jpg is listed twice (first on line 1)" },
        { "l.txt", "\n  \n", null, ": the list is empty (no image listed)" },
        { "l.csv", "path,label\n\n", null, ": the list is empty (no image listed)" },
        { "l.csv", "file,label\na.jpg,0\n", null, " line 1: a CSV list starts with a header naming its columns, path,label or path,class; found 'file,label'" },
        { "l.csv", "path,label,class\na.jpg,0,x\n", null, " line 1: the header names both a label and a class column; keep one (label: class indices, class: class names)" },
        { "l.csv", "path,label\na.jpg,0\nb.jpg\n", null, " line 3: 1 field, but the header names 2" },
        { "l.csv", "path,class\na.jpg,\n", null, " line 2: the class name is empty" },
        { "l.csv", "path,class\n,x\n", null, " line 2: the path is empty" },
        { "l.txt", "a.jpg 1\n", null, ": class '0' has no images (labels 0 to 1); a class with no training image cannot be learnt" },
        { "l.txt", "a.jpg 0\n", "x\ny\n", ": class 'y' has no images (named by {classes}); a class with no training image cannot be learnt" },
        { "l.txt", "a.jpg 0\n", "x\n\ny\n", "" }, // the classes file's own error, below
    };

    [Theory]
    [MemberData(nameof(BadLists))]
    public void EveryBadLineIsOneErrorNamingTheFileAndLine(string name, string text, string? classesText, string message)
    {
        Touch("a.jpg");
        Touch("b.jpg");
        Directory.CreateDirectory(Path.Combine(Root, "sub"));
        var list = Write(name, text);
        var classes = classesText is null ? null : Write("classes.txt", classesText);
        var e = Assert.Throws<DataException>(() => new ImageListSource(list, ClassesFile: classes).ForTraining());
        if (message.Length == 0) Assert.Equal($"{classes} line 2: empty class name (line i names label i - 1, so a blank line would shift every later label)", e.Message);
        else Assert.Equal(list + message.Replace("{classes}", classes).Replace("{root}", Root), e.Message);
    }

    [Fact]
    public void TheClassesFileNamesItsDuplicatesAndEmptinessAndItsOwnAbsence()
    {
        var twice = Write("twice.txt", "ant\nbee\nant\n");
        Assert.Equal($"{twice} line 3: class 'ant' is listed twice (first on line 1)", Assert.Throws<DataException>(() => ClassNamesFile.Read(twice)).Message);
        var empty = Write("empty.txt", "\n\n");
        Assert.Equal($"{empty}: no class names (one a line: the first line names label 0)", Assert.Throws<DataException>(() => ClassNamesFile.Read(empty)).Message);
        var missing = Path.Combine(Root, "none.txt");
        Assert.Equal($"{missing}: file not found", Assert.Throws<DataException>(() => ClassNamesFile.Read(missing)).Message);
        Assert.Equal($"{Root}: is a folder, not a list file", Assert.Throws<DataException>(() => new ImageListSource(Root).ForTraining()).Message);
    }

    [Fact]
    public void AWrittenListReadsBackAsTheSameDataset()
    {
        foreach (var f in new[] { "w/b/1.jpg", "w/a/x y.jpg", "w/a/2.jpg" }) Touch(f);
        var folder = ImageFolder.ForTraining(Path.Combine(Root, "w"));
        var list = Path.Combine(Root, "out", "all.txt");
        ImageListWriter.WriteList(list, folder);
        ImageListWriter.WriteClasses(Path.Combine(Root, "out", "classes.txt"), folder.Classes);
        Assert.Equal("../w/a/2.jpg 0\n../w/a/x y.jpg 0\n../w/b/1.jpg 1\n", File.ReadAllText(list));
        var back = new ImageListSource(list, ClassesFile: Path.Combine(Root, "out", "classes.txt")).ForTraining();
        Assert.Equal(folder.Classes, back.Classes);
        Assert.Equal(Pairs(folder), Pairs(back));
        Assert.Throws<DataException>(() => ImageListWriter.WriteClasses(Path.Combine(Root, "out", "bad.txt"), ["ok", " padded"]));
    }
}

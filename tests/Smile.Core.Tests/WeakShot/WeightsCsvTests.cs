using System.Globalization;
using Smile.Data;
using Smile.WeakShot;

namespace Smile.Tests.WeakShot;

public sealed class WeightsCsvTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("smile-weights-");
    private string Root => Path.Combine(_temp.FullName, "web");
    public void Dispose() => _temp.Delete(recursive: true);

    private string Csv(string text, string name = "weights.csv")
    {
        var path = Path.Combine(_temp.FullName, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>A web folder of two classes (empty files: ImageFolder looks at names only) and its sample paths.</summary>
    private string[] WebFolder(params string[] relative)
    {
        foreach (var r in relative)
        {
            var path = Path.Combine(Root, r);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, [1]);
        }
        return ImageFolder.ForTraining(Root).Samples.Select(s => s.Path).ToArray();
    }

    [Fact]
    public void WhatIsWrittenIsReadBackExactlyWithAwkwardPathsQuoted()
    {
        SampleWeight[] rows =
        [
            new("/data/web/a,b/1.jpg", "class, with comma", 0.1 + 0.2),      // 0.30000000000000004: needs 17 digits
            new("/data/web/say \"hi\".jpg", "quote\"d", 2.6000000000000001),
            new("/data/web/two\nlines.jpg", "plain", 1e-300),
            new("/data/web/ünï cödé.png", "Black_footed_Albatross", 0),
            new(" leading space.jpg", "x", 123456.789),
        ];
        var file = Path.Combine(_temp.FullName, "sub", "weights.csv"); // the folder is made
        WeightsCsv.Write(file, rows);

        Assert.Equal(rows, WeightsCsv.Read(file));
        var text = File.ReadAllText(file);
        Assert.StartsWith("path,class,weight\n\"/data/web/a,b/1.jpg\",\"class, with comma\",0.30000000000000004\n", text);
        Assert.Contains("\"/data/web/say \"\"hi\"\".jpg\",\"quote\"\"d\",2.6\n", text);
        Assert.Contains("\"/data/web/two\nlines.jpg\",plain,1E-300\n", text);
        Assert.Equal(["weights.csv"], Directory.GetFiles(Path.GetDirectoryName(file)!).Select(Path.GetFileName)); // no temp file left
    }

    [Fact]
    public void NumbersAreWrittenInTheInvariantCulture()
    {
        var saved = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("de-DE"); // decimal comma
            var file = Path.Combine(_temp.FullName, "w.csv");
            WeightsCsv.Write(file, [new("a.jpg", "c", 0.5)]);
            Assert.Equal("path,class,weight\na.jpg,c,0.5\n", File.ReadAllText(file));
            Assert.Equal(0.5, WeightsCsv.Read(file).Single().Weight);
        }
        finally { CultureInfo.CurrentCulture = saved; }
    }

    [Fact]
    public void WriteRefusesRowsThatReadWouldRefuseAndWritesNothing()
    {
        var file = Path.Combine(_temp.FullName, "w.csv");
        Assert.Throws<ArgumentException>(() => WeightsCsv.Write(file, [new("a.jpg", "c", -0.1)]));
        Assert.Throws<ArgumentException>(() => WeightsCsv.Write(file, [new("a.jpg", "c", double.NaN)]));
        Assert.Throws<ArgumentException>(() => WeightsCsv.Write(file, [new("a.jpg", "c", double.PositiveInfinity)]));
        Assert.Throws<ArgumentException>(() => WeightsCsv.Write(file, [new("", "c", 1)]));
        Assert.Throws<ArgumentException>(() => WeightsCsv.Write(file, [new("a.jpg", "", 1)]));
        var e = Assert.Throws<ArgumentException>(() => WeightsCsv.Write(file, [new("a.jpg", "c", 1), new("b.jpg", "c", 1), new("a.jpg", "c", 2)]));
        Assert.Contains("a.jpg appears twice", e.Message);
        Assert.Empty(Directory.GetFiles(_temp.FullName));
    }

    [Fact]
    public void ReadAcceptsCrLfAByteOrderMarkAndBlankLines()
    {
        var file = Csv("\uFEFFpath,class,weight\r\na.jpg,c,1.5\r\n\r\nb.jpg,c,0.02\r\n");
        Assert.Equal([new SampleWeight("a.jpg", "c", 1.5), new SampleWeight("b.jpg", "c", 0.02)], WeightsCsv.Read(file));
        Assert.Empty(WeightsCsv.Read(Csv("path,class,weight\n", "header-only.csv")));
    }

    [Theory]
    [InlineData("path,class,weight\na.jpg,c,1\nb.jpg,c,abc\n", "line 3: weight 'abc' is not a number")]
    [InlineData("path,class,weight\na.jpg,c,1\n\nb.jpg,c,-1\n", "line 4: weight '-1' is negative")]
    [InlineData("path,class,weight\na.jpg,c,NaN\n", "line 2: weight 'NaN' is not finite")]
    [InlineData("path,class,weight\na.jpg,c,Infinity\n", "line 2: weight 'Infinity' is not finite")]
    [InlineData("path,class,weight\na.jpg,c,1,2\n", "line 2: expected 3 fields (path,class,weight), found 4")]
    [InlineData("path,class,weight\na.jpg,1\n", "line 2: expected 3 fields (path,class,weight), found 2")]
    [InlineData("path,class,weight\n,c,1\n", "line 2: the path is empty")]
    [InlineData("path,class,weight\na.jpg,,1\n", "line 2: the class is empty")]
    [InlineData("path,class,weight\na.jpg,c,1\nb.jpg,c,1\na.jpg,d,2\n", "line 4: 'a.jpg' already appears on line 2")]
    [InlineData("file,class,weight\na.jpg,c,1\n", "line 1: expected the header 'path,class,weight', found 'file,class,weight'")]
    [InlineData("", "empty file (expected the header 'path,class,weight')")]
    [InlineData("path,class,weight\n\"a.jpg,c,1\n", "line 2: a quoted field is not closed")]
    [InlineData("path,class,weight\n\"a\"b.jpg,c,1\n", "line 2: 'b' after a closing quote")]
    [InlineData("path,class,weight\na\"b.jpg,c,1\n", "line 2: a quote inside an unquoted field")]
    // A quoted line break makes row 2 span lines 2 and 3: the next row starts on line 4.
    [InlineData("path,class,weight\n\"two\nlines.jpg\",c,1\nc.jpg,c,zz\n", "line 4: weight 'zz' is not a number")]
    public void ABadFileIsOneLineNamingTheFileAndTheLine(string text, string expected)
    {
        var file = Csv(text);
        var e = Assert.Throws<DataException>(() => WeightsCsv.Read(file));
        Assert.StartsWith($"{file} {expected}".Replace($"{file} empty", $"{file}: empty"), e.Message); // some go on with a hint
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AMissingFileIsADataException()
    {
        var file = Path.Combine(_temp.FullName, "nope.csv");
        var e = Assert.Throws<DataException>(() => WeightsCsv.Read(file));
        Assert.Equal($"{file}: weights file not found", e.Message);
    }

    [Fact]
    public void LookupGivesEachTrainingImageItsWeightInSampleOrderAndCountsTheRest()
    {
        var samples = WebFolder("b/2.jpg", "a/1.jpg", "a/sub/3.png");
        // Absolute paths in another order, one spelt with "..", and a row for an image the training folder lacks
        // (e.g. one a validation split took out).
        var file = Csv($"""
            path,class,weight
            {Root}/a/sub/3.png,a,0.25
            {Root}/b/../b/2.jpg,b,1
            {Root}/a/held-out.jpg,a,2.5
            {Root}/a/1.jpg,a,1.75
            """);
        var lookup = WeightsCsv.Lookup(file, samples);
        Assert.Equal([Path.Combine(Root, "a/1.jpg"), Path.Combine(Root, "a/sub/3.png"), Path.Combine(Root, "b/2.jpg")], samples);
        Assert.Equal([1.75f, 0.25f, 1f], lookup.Weights);
        Assert.Equal(1, lookup.RowsNotInFolder);
    }

    [Fact]
    public void RelativePathsAreReadAgainstTheCsvsFolder()
    {
        var samples = WebFolder("a/1.jpg", "b/2.jpg");
        var file = Csv("path,class,weight\na/1.jpg,a,0.5\n./b/2.jpg,b,1.5\n", "web/weights.csv"); // beside the class folders
        Assert.Equal([0.5f, 1.5f], WeightsCsv.Lookup(file, samples).Weights);
    }

    [Fact]
    public void RelativePathsAreReadAgainstTheGivenRootOnlyWhenOneIsGiven()
    {
        var samples = WebFolder("a/1.jpg", "b/2.jpg");
        var file = Csv("path,class,weight\na/1.jpg,a,0.5\nb/2.jpg,b,1.5\n", "elsewhere/weights.csv");
        var lookup = WeightsCsv.Lookup(file, samples, relativeTo: Root);
        Assert.Equal([0.5f, 1.5f], lookup.Weights);
        Assert.Equal(0, lookup.RowsNotInFolder);

        // Without the root the same rows mean files beside the CSV: none of the training images has a weight.
        var e = Assert.Throws<DataException>(() => WeightsCsv.Lookup(file, samples));
        Assert.Equal($"{file}: no weight for 2 of the 2 training images, e.g. {samples[0]}, {samples[1]} " +
                     $"(relative paths in it are read against {Path.Combine(_temp.FullName, "elsewhere")})", e.Message);
    }

    [Fact]
    public void ATrainingImageWithoutAWeightIsNamed()
    {
        var samples = WebFolder("a/1.jpg", "a/2.jpg", "b/3.jpg", "b/4.jpg", "b/5.jpg", "b/6.jpg");
        var one = Csv("path,class,weight\na/1.jpg,a,1\na/2.jpg,a,1\nb/3.jpg,b,1\nb/4.jpg,b,1\nb/6.jpg,b,1\n", "web/one.csv");
        var e = Assert.Throws<DataException>(() => WeightsCsv.Lookup(one, samples));
        Assert.Equal($"{one}: no weight for the training image {Path.Combine(Root, "b/5.jpg")} (relative paths in it are read against {Root})", e.Message);

        var many = Csv("path,class,weight\na/1.jpg,a,1\n", "web/many.csv");
        e = Assert.Throws<DataException>(() => WeightsCsv.Lookup(many, samples));
        Assert.StartsWith($"{many}: no weight for 5 of the 6 training images, e.g. {samples[1]}, {samples[2]}, {samples[3]}, ... (", e.Message);
    }

    [Fact]
    public void TwoRowsThatNameOneFileAreRefused()
    {
        var samples = WebFolder("a/1.jpg");
        var file = Csv($"path,class,weight\na/1.jpg,a,1\n{Root}/a/1.jpg,a,2\n", "web/weights.csv");
        var e = Assert.Throws<DataException>(() => WeightsCsv.Lookup(file, samples));
        Assert.Equal($"{file} line 3: '{Root}/a/1.jpg' is the same file as line 2 ({Path.Combine(Root, "a/1.jpg")})", e.Message);
    }
}

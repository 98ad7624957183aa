using System.Globalization;
using System.Text.Json;
using Smile.Data;
using Smile.Data.Prepare.MatFile;

namespace Smile.Tests.Data.Prepare;

/// <summary>
/// The MAT-file reader against scipy.io.savemat (an independent writer, compressed and not) and against a file
/// written byte by byte the way MATLAB stores values (checked with scipy.io.loadmat); see python/make_mat_fixtures.py.
/// Both sides are rendered to one line per array and compared as text, so a difference shows where it is.
/// </summary>
public sealed class MatFileTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("smile-matfile-");
    public void Dispose() => _temp.Delete(recursive: true);

    private JsonElement WriteFixtures()
    {
        PythonRunner.Run("make_mat_fixtures.py", _temp.FullName);
        return JsonDocument.Parse(File.ReadAllText(Path.Combine(_temp.FullName, "expected.json"))).RootElement;
    }

    private string Fixture(string name) => Path.Combine(_temp.FullName, name);

    [Theory]
    [InlineData("scipy_plain.mat")]
    [InlineData("scipy_compressed.mat")]
    public void ReadsWhatScipyWrote(string file)
    {
        var expected = WriteFixtures().GetProperty("scipy");
        var mat = MatFileReader.Read(Fixture(file));
        AssertSameVariables(expected, mat);

        // The access the dataset readers use: struct field by name and element index, cell items, char text.
        var annotations = mat.Get<MatStruct>("annotations");
        Assert.Equal(["bbox_x1", "bbox_y1", "class", "fname"], annotations.FieldNames);
        Assert.Equal("00002.jpg", Assert.IsType<MatChar>(annotations[1, "fname"]).Text);
        Assert.Equal(91.0, Assert.IsType<MatNumeric>(annotations[2, "class"])[0]);
        Assert.Equal("Grüße ✓ Ram C/V", mat.Get<MatChar>("unicode").Text);
    }

    [Fact]
    public void ReadsDoublesStoredInSmallerTypesCharsAsUint16AndEmptyElementsAsMatlabWritesThem()
    {
        var expected = WriteFixtures().GetProperty("matlab_style");
        var mat = MatFileReader.Read(Fixture("matlab_style.mat"));
        AssertSameVariables(expected, mat);
        var label = Assert.IsType<MatNumeric>(mat.Get<MatStruct>("annotations")[1, "class"]);
        Assert.Equal("double", label.ClassName); // stored as miUINT8, still a double array
    }

    [Fact]
    public void TruncatedAndCorruptFilesAreDataExceptionsNamingTheFile()
    {
        WriteFixtures();
        foreach (var name in new[] { "scipy_plain.mat", "scipy_compressed.mat" })
        {
            byte[] whole = File.ReadAllBytes(Fixture(name));
            int variables = MatFileReader.Read(Fixture(name)).Names.Count;
            string cut = Fixture("cut.mat");
            for (int length = 0; length < whole.Length; length++)
            {
                File.WriteAllBytes(cut, whole[..length]);
                try
                {
                    // A cut exactly between two variables leaves a valid, shorter file.
                    Assert.True(MatFileReader.Read(cut).Names.Count < variables, $"{name} cut to {length} bytes read all variables");
                }
                catch (DataException e) { Assert.StartsWith(cut + ": ", e.Message); }
            }
            File.WriteAllBytes(cut, whole[..(whole.Length / 2)]);
            Assert.StartsWith(cut + ": ", Assert.Throws<DataException>(() => MatFileReader.Read(cut)).Message);

            // Random corruption: whatever the bytes, the reader answers with values or a DataException, never another error.
            var random = new Random(name.Length);
            for (int trial = 0; trial < 3000; trial++)
            {
                byte[] bytes = (byte[])whole.Clone();
                for (int k = random.Next(1, 4); k > 0; k--) bytes[random.Next(128, bytes.Length)] = (byte)random.Next(256);
                File.WriteAllBytes(cut, bytes);
                try { MatFileReader.Read(cut); }
                catch (DataException e) { Assert.StartsWith(cut + ": ", e.Message); }
            }
        }

        byte[] compressed = File.ReadAllBytes(Fixture("scipy_compressed.mat"));
        compressed.AsSpan(128 + 8, 2).Fill(0xFF); // the zlib header of the first variable
        File.WriteAllBytes(Fixture("bad_zlib.mat"), compressed);
        var zlib = Assert.Throws<DataException>(() => MatFileReader.Read(Fixture("bad_zlib.mat")));
        Assert.Contains(Fixture("bad_zlib.mat"), zlib.Message);
        Assert.Contains("zlib", zlib.Message);
    }

    [Fact]
    public void UnsupportedFormsAreRefusedWithTheirName()
    {
        WriteFixtures();
        AssertRefused(Fixture("sparse.mat"), "variable 'm' is a sparse array");
        AssertRefused(Fixture("complex.mat"), "variable 'z' is complex");

        byte[] plain = File.ReadAllBytes(Fixture("scipy_plain.mat"));
        byte[] bigEndian = (byte[])plain.Clone();
        bigEndian[126] = (byte)'M';
        bigEndian[127] = (byte)'I';
        File.WriteAllBytes(Fixture("big.mat"), bigEndian);
        AssertRefused(Fixture("big.mat"), "big-endian");

        byte[] hdf5 = (byte[])plain.Clone();
        hdf5[124] = 0x00;
        hdf5[125] = 0x02;
        File.WriteAllBytes(Fixture("v73.mat"), hdf5);
        AssertRefused(Fixture("v73.mat"), "MATLAB 7.3");

        File.WriteAllText(Fixture("text.mat"), "class_names = {'a', 'b'}\n");
        AssertRefused(Fixture("text.mat"), "not a MAT-file");
        File.WriteAllBytes(Fixture("level4.mat"), new byte[200]);
        AssertRefused(Fixture("level4.mat"), "not a MAT-file level 5");
    }

    [Fact]
    public void AMissingVariableOrAnotherClassIsNamed()
    {
        WriteFixtures();
        var mat = MatFileReader.Read(Fixture("scipy_plain.mat"));
        var missing = Assert.Throws<DataException>(() => mat.Get<MatStruct>("class_names"));
        Assert.Contains(Fixture("scipy_plain.mat"), missing.Message);
        Assert.Contains("'class_names'", missing.Message);
        Assert.Contains("annotations", missing.Message); // what the file does hold
        var wrong = Assert.Throws<DataException>(() => mat.Get<MatStruct>("c"));
        Assert.Contains("1x4 cell", wrong.Message);
        Assert.Contains("struct", wrong.Message);
    }

    private static void AssertRefused(string path, string expected)
    {
        var error = Assert.Throws<DataException>(() => MatFileReader.Read(path));
        Assert.StartsWith(path + ": ", error.Message);
        Assert.Contains(expected, error.Message);
    }

    private static void AssertSameVariables(JsonElement expected, MatVariables mat)
    {
        var names = expected.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(names, mat.Names);
        var want = new List<string>();
        var got = new List<string>();
        foreach (var name in names)
        {
            Render(expected.GetProperty(name), name, want);
            Render(mat[name], name, got);
        }
        Assert.Equal(string.Join('\n', want), string.Join('\n', got));
    }

    // One line per array, "where: class dims [content]"; the same format from the JSON and from the reader.
    private static void Render(JsonElement e, string where, List<string> lines)
    {
        string dims = string.Join('x', e.GetProperty("dims").EnumerateArray().Select(d => d.GetInt32()));
        switch (e.GetProperty("kind").GetString())
        {
            case "numeric":
                var values = e.GetProperty("values").EnumerateArray().Select(v => Number(double.Parse(v.GetString()!, CultureInfo.InvariantCulture)));
                lines.Add($"{where}: {e.GetProperty("class").GetString()} {dims} [{string.Join(' ', values)}]");
                break;
            case "char":
                lines.Add($"{where}: char {dims} [{string.Join('|', e.GetProperty("rows").EnumerateArray().Select(r => r.GetString()))}]");
                break;
            case "cell":
                lines.Add($"{where}: cell {dims}");
                int i = 0;
                foreach (var item in e.GetProperty("items").EnumerateArray()) Render(item, $"{where}{{{++i}}}", lines);
                break;
            default:
                var fields = e.GetProperty("fields").EnumerateArray().Select(f => f.GetString()!).ToArray();
                lines.Add($"{where}: struct {dims} fields {string.Join(',', fields)}");
                int n = 0;
                foreach (var element in e.GetProperty("elements").EnumerateArray())
                {
                    n++;
                    foreach (var f in fields) Render(element.GetProperty(f), $"{where}({n}).{f}", lines);
                }
                break;
        }
    }

    private static void Render(MatValue value, string where, List<string> lines)
    {
        string dims = string.Join('x', value.Dims);
        switch (value)
        {
            case MatNumeric numeric:
                lines.Add($"{where}: {numeric.ClassName} {dims} [{string.Join(' ', numeric.Values.Select(Number))}]");
                break;
            case MatChar text:
                lines.Add($"{where}: char {dims} [{string.Join('|', text.Rows)}]");
                break;
            case MatCell cell:
                lines.Add($"{where}: cell {dims}");
                for (int i = 0; i < cell.Count; i++) Render(cell[i], $"{where}{{{i + 1}}}", lines);
                break;
            case MatStruct s:
                lines.Add($"{where}: struct {dims} fields {string.Join(',', s.FieldNames)}");
                for (int i = 0; i < s.Count; i++)
                    foreach (var f in s.FieldNames) Render(s[i, f], $"{where}({i + 1}).{f}", lines);
                break;
        }
    }

    // Round-trip text (keeps -0, NaN and the last bit).
    private static string Number(double x) => x.ToString("R", CultureInfo.InvariantCulture);
}

using SkiaSharp;
using Smile.Data;
using Smile.WeakShot;

namespace Smile.Tests.WeakShot;

public sealed class ContactSheetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("smile-sheet-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The colour that encodes rank <paramref name="r"/> (0 = lowest weight): far apart for 20 ranks.</summary>
    private static SKColor Colour(int r) => new((byte)(5 + 12 * r), (byte)(250 - 12 * r), (byte)(r % 2 == 0 ? 40 : 200));

    /// <summary>The rank whose colour is nearest to <paramref name="c"/>, or -1 when none is within a few levels.</summary>
    private static int RankOf(SKColor c, int ranks)
    {
        for (int r = 0; r < ranks; r++)
        {
            var e = Colour(r);
            if (Math.Abs(c.Red - e.Red) <= 3 && Math.Abs(c.Green - e.Green) <= 3 && Math.Abs(c.Blue - e.Blue) <= 3) return r;
        }
        return -1;
    }

    /// <summary>A solid-colour PNG of the given size.</summary>
    private string Solid(string name, SKColor colour, int width, int height)
    {
        using var bitmap = new SKBitmap(width, height);
        bitmap.Erase(colour);
        var path = Path.Combine(_dir, name);
        using (var file = File.Create(path)) bitmap.Encode(file, SKEncodedImageFormat.Png, 100);
        return path;
    }

    /// <summary>A solid-colour JPEG (at quality 100 a solid colour comes back within a level or two).</summary>
    private string SolidJpeg(string name, SKColor colour, int width, int height)
    {
        var image = new RgbImage(width, height);
        for (int i = 0; i < image.Pixels.Length; i += 3) (image.Pixels[i], image.Pixels[i + 1], image.Pixels[i + 2]) = (colour.Red, colour.Green, colour.Blue);
        var path = Path.Combine(_dir, name);
        SyntheticPhotos.WriteJpeg(image, path, quality: 100);
        return path;
    }

    /// <summary><paramref name="n"/> images whose colour encodes the rank of their weight, given in a shuffled order;
    /// sizes vary (wide, tall, larger and smaller than a tile) so that the fitting is exercised too, and every fifth
    /// is a large JPEG (decoded at a reduced scale).</summary>
    private List<(string ImagePath, double Weight)> RankedImages(int n, int seed)
    {
        var rng = new Random(seed);
        var weights = Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 3).Order().ToArray();
        var sizes = new[] { (40, 30), (30, 50), (200, 120), (64, 64), (17, 90) };
        var images = Enumerable.Range(0, n)
            .Select(r => (r % 5 == 2 ? SolidJpeg($"img{r:D2}.jpg", Colour(r), 800, 480)
                : Solid($"img{r:D2}.png", Colour(r), sizes[r % sizes.Length].Item1, sizes[r % sizes.Length].Item2), weights[r])).ToList();
        rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(images));
        return images;
    }

    private static SKBitmap Decode(string png, ContactSheet.SheetLayout layout)
    {
        Assert.True(File.Exists(png), $"{png} was not written");
        var bitmap = SKBitmap.Decode(png);
        Assert.NotNull(bitmap);
        Assert.Equal((layout.Width, layout.Height), (bitmap.Width, bitmap.Height));
        return bitmap;
    }

    private static SKColor Centre(SKBitmap bitmap, SKRectI tile) => bitmap.GetPixel(tile.MidX, tile.MidY);

    [Fact]
    public void TheLowestAndHighestWeightsAreShownInOrderAndTheMiddleIsLeftOut()
    {
        var images = RankedImages(20, seed: 3);
        var png = Path.Combine(_dir, "sheets", "class.png");
        var unreadable = ContactSheet.Write(png, "001.Black_footed_Albatross", images, perRow: 8, tile: 48);
        Assert.Empty(unreadable);

        var layout = ContactSheet.Plan(20, 8, 48);
        // Margins 12, gaps 8: 8 tiles of 48 across; title 34, two labelled rows (label 24, tile 48, caption 18), 10 between.
        Assert.Equal((2 * 12 + 8 * 48 + 7 * 8, 12 + 34 + 2 * (24 + 48 + 18) + 10 + 12), (layout.Width, layout.Height));
        using var bitmap = Decode(png, layout);
        int[] expected = [0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 16, 17, 18, 19];
        Assert.Equal(expected.Length, layout.Tiles.Count);
        Assert.Equal(expected, layout.Tiles.Select(t => RankOf(Centre(bitmap, t), 20)));
        // The tiles of the second row lie below those of the first, left to right in each.
        Assert.True(layout.Tiles[8].Top > layout.Tiles[7].Bottom + 18);
        Assert.All(Enumerable.Range(1, 8).Where(i => i != 8), i => Assert.True(layout.Tiles[i].Left > layout.Tiles[i - 1].Right));

        var pixels = bitmap.Pixels;
        foreach (int middle in new[] { 8, 9, 10, 11 })
            Assert.DoesNotContain(pixels, p => RankOf(p, 20) == middle);
        // A weight under every tile: dark text in the caption band.
        foreach (var t in layout.Tiles)
        {
            int dark = 0;
            for (int y = t.Bottom; y < t.Bottom + ContactSheet.CaptionHeight; y++)
                for (int x = t.Left; x < t.Right; x++)
                    if (bitmap.GetPixel(x, y).Red < 100) dark++;
            Assert.True(dark > 10, $"no caption under the tile at ({t.Left}, {t.Top})");
        }
    }

    [Fact]
    public void ASmallClassShowsEveryImageOnceInOrder()
    {
        var images = RankedImages(5, seed: 4);
        var png = Path.Combine(_dir, "small.png");
        ContactSheet.Write(png, "tiny", images, perRow: 4, tile: 40); // 5 < 2 x 4
        var layout = ContactSheet.Plan(5, 4, 40);
        using var bitmap = Decode(png, layout);
        Assert.Equal([0, 1, 2, 3, 4], layout.Tiles.Select(t => RankOf(Centre(bitmap, t), 5)));
        Assert.Single(layout.Labels);
        // Each image fills about one tile at most (none twice): a square one exactly one.
        var pixels = bitmap.Pixels;
        for (int r = 0; r < 5; r++)
        {
            int count = pixels.Count(p => RankOf(p, 5) == r);
            Assert.InRange(count, 40 * 5, 40 * 40 + 2 * 40);
        }
        Assert.InRange(pixels.Count(p => RankOf(p, 5) == 3), 40 * 40 - 2 * 40, 40 * 40 + 2 * 40); // img03 is 64 x 64
    }

    [Fact]
    public void AnUnreadableImageIsAGreyTileNotACrash()
    {
        var images = RankedImages(3, seed: 5);
        var garbage = Path.Combine(_dir, "garbage.jpg");
        File.WriteAllText(garbage, "not an image");
        var missing = Path.Combine(_dir, "missing.jpg");
        images.Add((garbage, 10)); // the two highest weights
        images.Add((missing, 11));
        var png = Path.Combine(_dir, "u.png");

        var unreadable = ContactSheet.Write(png, "c", images, perRow: 8, tile: 64);

        Assert.Equal(2, unreadable.Count);
        Assert.Contains(garbage, unreadable[0]);
        Assert.Contains(missing, unreadable[1]);
        var layout = ContactSheet.Plan(5, 8, 64);
        using var bitmap = Decode(png, layout);
        Assert.Equal([0, 1, 2], layout.Tiles.Take(3).Select(t => RankOf(Centre(bitmap, t), 3)));
        foreach (var t in layout.Tiles.Skip(3))
            Assert.Equal(ContactSheet.UnreadableGround, bitmap.GetPixel(t.Left + 2, t.Top + 2)); // "unreadable" is written in the middle
    }

    [Fact]
    public void TheSameInputsGiveTheSameBytes()
    {
        var images = RankedImages(12, seed: 6);
        string a = Path.Combine(_dir, "a.png"), b = Path.Combine(_dir, "b.png");
        ContactSheet.Write(a, "c", images);
        images.Reverse();
        ContactSheet.Write(b, "c", images);
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }

    [Fact]
    public void BadArgumentsAreRefused()
    {
        var png = Path.Combine(_dir, "x.png");
        Assert.Throws<ArgumentException>(() => ContactSheet.Write(png, "c", []));
        Assert.Throws<ArgumentException>(() => ContactSheet.Write(png, "c", [("a.jpg", double.NaN)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => ContactSheet.Write(png, "c", [("a.jpg", 1)], perRow: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ContactSheet.Write(png, "c", [("a.jpg", 1)], tile: 4));
        Assert.False(File.Exists(png));
    }

    [Theory]
    [InlineData(0.0213, "0.02")]
    [InlineData(2.6, "2.60")]
    [InlineData(0.0043, "0.0043")]
    [InlineData(0, "0.00")]
    [InlineData(12.345, "12.35")]
    public void WeightsArePrintedWithTwoDecimalsOrTwoDigitsBelowOneHundredth(double weight, string text) =>
        Assert.Equal(text, ContactSheet.FormatWeight(weight));

    [Fact]
    public void FileNamesAreSafeAndDistinct()
    {
        Assert.Equal("001.Black_footed_Albatross.png", ContactSheet.FileName("001.Black_footed_Albatross"));
        string[] awkward = ["a b", "a_b", "a/b", "../up", ".hidden", "", "Épeire", new string('x', 300)];
        var names = awkward.Select(ContactSheet.FileName).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Equal("a_b.png", names[1]);
        Assert.All(names, n =>
        {
            Assert.EndsWith(".png", n);
            Assert.False(n.StartsWith('.'), n);
            Assert.True(n.Length <= 120, n);
            Assert.All(n, c => Assert.True(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_', n));
        });
        Assert.Matches("^a_b-[0-9a-f]{8}\\.png$", names[0]);
    }
}

using Smile.Data;

namespace Smile.Tests.Cli;

/// <summary>The small photo-like ImageFolders of the CLI tests: every class of a few distinct generated JPEGs.</summary>
public static class TinyFolders
{
    /// <summary>Writes <paramref name="count"/> images into each class folder under <paramref name="root"/>, drawing
    /// from <paramref name="seed"/> on; returns the next unused seed, so folders written one after another differ.</summary>
    public static int Write(string root, IEnumerable<string> classes, int count, int seed)
    {
        foreach (var cls in classes)
        {
            var dir = Directory.CreateDirectory(Path.Combine(root, cls)).FullName;
            for (int i = 0; i < count; i++)
                SyntheticPhotos.WriteJpeg(SyntheticPhotos.Render(48 + i, 40 + 2 * i, seed++ * (cls.Length + 1)), Path.Combine(dir, $"{i}.jpg"));
        }
        return seed;
    }
}

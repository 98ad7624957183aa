namespace Smile.Tests.Data.Prepare;

/// <summary>Small Fashion-MNIST idx files of all ten classes, whose 2x2 images carry their own label and index in
/// their pixels (for the weak-shot layout tests of Smile.Core.Tests and `smile prepare fashion-weakshot` in
/// Smile.Cli.Tests).</summary>
internal static class FashionIdxFixture
{
    /// <summary>Idx files with <paramref name="trainPerClass"/> and <paramref name="testPerClass"/> images of each class,
    /// labels interleaved (0, 1, ..., 9, 0, ...); image i is [label * 20, i % 256, i / 256, 255].</summary>
    public static string Write(string folder, int trainPerClass, int testPerClass)
    {
        Directory.CreateDirectory(folder);
        foreach (var (prefix, perClass) in new[] { ("train", trainPerClass), ("t10k", testPerClass) })
        {
            int count = perClass * 10;
            var images = new List<byte>();
            images.AddRange(BigEndian(0x0803)); images.AddRange(BigEndian(count)); images.AddRange(BigEndian(2)); images.AddRange(BigEndian(2));
            var labels = new List<byte>();
            labels.AddRange(BigEndian(0x0801)); labels.AddRange(BigEndian(count));
            for (int i = 0; i < count; i++)
            {
                int label = i % 10;
                images.AddRange([(byte)(label * 20), (byte)(i % 256), (byte)(i / 256), 255]);
                labels.Add((byte)label);
            }
            File.WriteAllBytes(Path.Combine(folder, $"{prefix}-images-idx3-ubyte"), images.ToArray());
            File.WriteAllBytes(Path.Combine(folder, $"{prefix}-labels-idx1-ubyte"), labels.ToArray());
        }
        return folder;
    }

    private static byte[] BigEndian(int v) => [(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v];
}

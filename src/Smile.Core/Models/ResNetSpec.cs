namespace Smile.Models;

/// <summary>A ResNet depth: its block type and the number of blocks in each of the four stages.</summary>
public sealed record ResNetSpec(string Name, bool Bottleneck, int[] Blocks)
{
    public static readonly ResNetSpec ResNet18 = new("resnet18", false, new[] { 2, 2, 2, 2 });
    public static readonly ResNetSpec ResNet34 = new("resnet34", false, new[] { 3, 4, 6, 3 });
    public static readonly ResNetSpec ResNet50 = new("resnet50", true, new[] { 3, 4, 6, 3 });
    public static readonly ResNetSpec ResNet101 = new("resnet101", true, new[] { 3, 4, 23, 3 });
    public static readonly ResNetSpec ResNet152 = new("resnet152", true, new[] { 3, 8, 36, 3 });

    public static IReadOnlyList<ResNetSpec> All { get; } = new[] { ResNet18, ResNet34, ResNet50, ResNet101, ResNet152 };
}

namespace Smile.Models;

/// <summary>A DenseNet-BC configuration (Huang et al. 2017) as torchvision builds it.</summary>
public sealed record DenseNetSpec(string Name, int GrowthRate, int[] Blocks, int InitFeatures, int BottleneckSize = 4)
{
    public static readonly DenseNetSpec DenseNet121 = new("densenet121", 32, [6, 12, 24, 16], 64);
}

namespace Smile.Training;

/// <summary>
/// Which student parameters are the classifier heads and which are the backbone, by torchvision name.
/// The heads are new (fc) or re-purposed (aux_fc) for the target task; everything else came from the
/// pre-trained source model, which is what L2-SP anchors to.
/// </summary>
public static class ParameterGroups
{
    // Every family's classifier name (torchvision's fc for ResNets, classifier for DenseNets; no model has both)
    // and Smile's aux head.
    private static readonly string[] HeadPrefixes = ["fc.", "classifier.", "aux_fc."];

    /// <summary>fc.* (or classifier.*) and aux_fc.*: the parameters of SMILE's classifier L2 term.</summary>
    public static bool IsHead(string parameterName) =>
        HeadPrefixes.Any(p => parameterName.StartsWith(p, StringComparison.Ordinal));

    /// <summary>Every parameter that is not a head parameter.</summary>
    public static bool IsBackbone(string parameterName) => !IsHead(parameterName);

    /// <summary>A parameter's factor on the run's learning rate: <paramref name="backboneRatio"/> for the backbone, 1 for
    /// the heads (TLlib's --finetune: the backbone at 0.1 x lr, the new head at lr).</summary>
    public static double LearningRateScale(string parameterName, double backboneRatio) => IsHead(parameterName) ? 1.0 : backboneRatio;
}

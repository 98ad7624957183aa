namespace Smile.Training;

/// <summary>
/// The weights of SMILE's loss terms and of the other regularizers, with the reference's defaults.
/// </summary>
/// <param name="Alpha">Mixup's Beta(alpha, alpha) parameter; 0 or less turns mixing off (lam = 1).</param>
/// <param name="AuxLambda">Weight of the aux-head distillation term (soft CE against the teacher's softmax).</param>
/// <param name="RegLambda">Weight of the feature-mixup distillation term (Frobenius distance of feature maps).</param>
/// <param name="ClsLambda">Weight of 0.5 * ||fc||^2 + 0.5 * ||aux_fc||^2, added by every regularizer.</param>
/// <param name="EmaDecay">Mean-teacher decay; 1 or more turns the teacher update off.</param>
/// <param name="L2spLambda">L2-SP strength (alpha in Li et al. 2018). Any regularizer adds the L2-SP term when it
/// is above 0; the <c>l2sp</c> regularizer uses it as is, so the caller chooses its default (the CLI: 0.01).</param>
/// <param name="Smoothing">The eps of label smoothing and instance-based label smoothing (ls, ils).</param>
/// <param name="IlsTemperature">The temperature T of the ILS teacher's softmax.</param>
/// <param name="KdTemperature">Distillation temperature T (Hinton; the ILS paper's 20).</param>
/// <param name="KdAlpha">Weight of the distillation term; 1 - alpha weighs the CE on the labels.</param>
/// <param name="GraphReg">SimTrans's graph-regularisation weight α (0: off); needs the SimNet.</param>
/// <param name="GraphMu">μ of the rectified similarity graph (the authors' -4).</param>
/// <param name="GraphRegAlternate">Alternate epochs as the authors do: even epochs weighted CE only, odd
/// epochs weighted CE plus the graph term.</param>
public sealed record RegularizerOptions(
    double Alpha = 0.2,
    double AuxLambda = 0.1,
    double RegLambda = 0.01,
    double ClsLambda = 1e-4,
    double EmaDecay = 0.999,
    double L2spLambda = 0.0,
    double Smoothing = 0.1,
    double IlsTemperature = 1.0,
    double KdTemperature = 20.0,
    double KdAlpha = 0.9,
    double GraphReg = 0.0,
    double GraphMu = -4.0,
    bool GraphRegAlternate = false);

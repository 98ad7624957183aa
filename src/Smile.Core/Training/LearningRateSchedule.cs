namespace Smile.Training;

/// <summary>
/// The reference's step schedule: the base rate, then a tenth of it from iteration floor(2 * (max_iters + 1000) / 3)
/// on (6666 for the default 9000 iterations). The "+ 1000" is the reference's; kept so runs are comparable.
/// </summary>
public static class LearningRateSchedule
{
    public static double At(long iteration, double baseLr, long maxIters)
    {
        if (iteration < 0) throw new ArgumentOutOfRangeException(nameof(iteration), iteration, "iterations count from 0");
        if (maxIters < 0) throw new ArgumentOutOfRangeException(nameof(maxIters), maxIters, "max_iters must be 0 or more");
        return iteration < DropAt(maxIters) ? baseLr : baseLr * 0.1;
    }

    /// <summary>The first iteration with the lowered rate.</summary>
    public static long DropAt(long maxIters) => 2 * (maxIters + 1000) / 3; // non-negative: integer division is floor
}

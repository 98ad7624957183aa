using Smile.Training;

namespace Smile.Tests.Training;

public sealed class LearningRateScheduleTests
{
    [Fact]
    public void DropsTenfoldAtTwoThirdsOfMaxItersPlusOneThousand()
    {
        // floor(2 * (9000 + 1000) / 3) = floor(6666.67) = 6666
        Assert.Equal(6666, LearningRateSchedule.DropAt(9000));
        Assert.Equal(0.01, LearningRateSchedule.At(0, 0.01, 9000));
        Assert.Equal(0.01, LearningRateSchedule.At(6665, 0.01, 9000));
        Assert.Equal(0.001, LearningRateSchedule.At(6666, 0.01, 9000), 15);
        Assert.Equal(0.001, LearningRateSchedule.At(8999, 0.01, 9000), 15);
    }

    [Theory]
    [InlineData(2000L, 2000L)] // 2 * 3000 / 3 exactly
    [InlineData(1L, 667L)]     // floor(2002 / 3)
    [InlineData(0L, 666L)]
    public void TheBoundaryIsFloored(long maxIters, long dropAt)
    {
        Assert.Equal(dropAt, LearningRateSchedule.DropAt(maxIters));
        Assert.Equal(0.1, LearningRateSchedule.At(dropAt - 1, 0.1, maxIters));
        Assert.Equal(0.01, LearningRateSchedule.At(dropAt, 0.1, maxIters), 15);
    }

    [Fact]
    public void NegativeIterationsAreRejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => LearningRateSchedule.At(-1, 0.01, 9000));
}

namespace Smile.Cli;

/// <summary>An <see cref="IProgress{T}"/> that calls its action on the reporting thread, at once. (<see cref="Progress{T}"/>
/// posts to the thread pool without a synchronization context, so its last report can arrive after the work, and
/// the screen, have moved on.)</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

using System.Text.RegularExpressions;
using Smile.Cli;
using Smile.Evaluation;
using Smile.Training;

namespace Smile.Tests.Cli;

/// <summary>The live status line and the log lines of a run, written to a fake terminal: a log line written while
/// the status is up lands on its own line and the status comes back under it; off a terminal, plain lines only.</summary>
public sealed class StatusConsoleTests
{
    private static List<string> Screen(string output) => TerminalScreen.Lines(output);

    private sealed class FakeClock
    {
        public TimeSpan Now { get; set; }
    }

    private static StepReport Step(long iteration, double loss) =>
        new(iteration, 10, "smile", loss, new Dictionary<string, double> { ["main"] = loss - 0.1, ["mix"] = 0.1 }, 0.5, 0.01, 42.5, TimeSpan.FromSeconds(33));

    private static readonly Regex LogLine = new(@"^\d{4} \d\d:\d\d:\d\d \S+ (.*)$");

    [Fact]
    public void ALogLineDuringProgressIsWrittenOnItsOwnLineAndTheProgressIsRedrawnUnderIt()
    {
        var output = new StringWriter();
        var console = new StatusConsole(output, isTerminal: true, width: () => 200);
        var clock = new FakeClock();
        using var display = new ProgressDisplay(console, () => clock.Now);
        using var log = Logging.Create(null, console);

        display.OnStep(Step(4, 1.25));
        const string status = "iter 5/10 [=========>          ]  50% [smile] loss 1.2500 (main 1.150 mix 0.100) 42.5 im/s, 0m33s left";
        Assert.Equal([status], Screen(output.ToString()));

        log.Information("Step[{Iteration:D4}/{Max:D4}] loss {Loss:F4}", 4, 10, 1.25);
        var screen = Screen(output.ToString());
        Assert.Equal(2, screen.Count);
        Assert.Equal("Step[0004/0010] loss 1.2500", LogLine.Match(screen[0]).Groups[1].Value); // the whole line, nothing glued to it
        Assert.Equal(status, screen[1]);
        // The bytes: the status cleared (\r ESC[2K) before the log line, then drawn again after it.
        Assert.EndsWith($"{status}{StatusConsole.ClearLine}{screen[0]}\n{status}", output.ToString());

        // A result line (stdout) is written under the same lock, the status cleared first and drawn again after it.
        clock.Now += TimeSpan.FromSeconds(1);
        display.OnStep(Step(5, 1.0));
        console.WriteResult("a result");
        screen = Screen(output.ToString());
        Assert.Equal(3, screen.Count);
        Assert.Equal("a result", screen[1]);
        Assert.StartsWith("iter 6/10 [===========>        ]  60% [smile] loss 1.0000", screen[2]);

        display.Dispose();
        Assert.Equal(2, Screen(output.ToString()).Count); // the status line is gone
        display.OnStep(Step(6, 0.5));
        display.OnEvalProgress(1, 4);
        Assert.Equal(2, Screen(output.ToString()).Count); // and late reports do not bring it back
    }

    [Fact]
    public void EvaluationShowsItsBarRateAndTimeLeftAndLateReportsAreDropped()
    {
        var output = new StringWriter();
        var console = new StatusConsole(output, isTerminal: true, width: () => 200);
        var clock = new FakeClock();
        using var display = new ProgressDisplay(console, () => clock.Now);

        display.OnStep(Step(9, 0.5));
        display.OnEvalProgress(100, 400); // switching to evaluation draws at once, within the 250 ms
        Assert.Equal("evaluating [====>               ]  25% 100/400 images", Screen(output.ToString()).Single());
        clock.Now += TimeSpan.FromMilliseconds(100);
        display.OnEvalProgress(120, 400); // too soon: not drawn
        Assert.Equal("evaluating [====>               ]  25% 100/400 images", Screen(output.ToString()).Single());
        clock.Now += TimeSpan.FromMilliseconds(900);
        display.OnEvalProgress(300, 400); // 200 images in 1 s: 200 im/s, 100 left
        Assert.Equal("evaluating [==============>     ]  75% 300/400 images, 200.0 im/s, 0m00s left", Screen(output.ToString()).Single());

        display.OnEval(new EvalReport(9, new EvalResult(400, 0.5, 0.9, 1, 0.05, 2), true, null));
        Assert.Empty(Screen(output.ToString())); // the finished evaluation's line is gone
        clock.Now += TimeSpan.FromMilliseconds(10);
        display.OnEvalProgress(400, 400); // a report of the finished evaluation arriving late
        Assert.Empty(Screen(output.ToString()));
        display.OnStep(Step(9, 0.4)); // back to training: drawn at once
        Assert.StartsWith("iter 10/10 [====================] 100% [smile] loss 0.4000", Screen(output.ToString()).Single());
    }

    [Fact]
    public void OffATerminalOnlyPlainLinesAreWritten()
    {
        var output = new StringWriter();
        var console = new StatusConsole(output, isTerminal: false);
        var clock = new FakeClock();
        using (var display = new ProgressDisplay(console, () => clock.Now))
        using (var log = Logging.Create(null, console))
        {
            display.OnStep(Step(1, 2.0));
            log.Information("first");
            display.OnEvalProgress(10, 20);
            clock.Now += TimeSpan.FromSeconds(1);
            display.OnStep(Step(2, 1.5));
            log.Information("second");
            console.WriteResult("result");
        }
        var text = output.ToString();
        Assert.DoesNotContain('\r', text);
        Assert.DoesNotContain('\u001b', text);
        var lines = text.Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.Equal(["first", "second"], lines[..2].Select(l => LogLine.Match(l).Groups[1].Value));
        Assert.Equal(["result", ""], lines[2..]);
    }

    [Fact]
    public void AStatusWiderThanTheTerminalIsCutSoItNeverWraps()
    {
        var output = new StringWriter();
        var console = new StatusConsole(output, isTerminal: true, width: () => 40);
        console.Show(new string('x', 100));
        Assert.Equal(new string('x', 39), Screen(output.ToString()).Single());
    }

    [Fact]
    public void LinesFromManyThreadsNeverInterleave()
    {
        var output = new StringWriter();
        var console = new StatusConsole(output, isTerminal: true, width: () => 200);
        var clock = new FakeClock();
        using var display = new ProgressDisplay(console, () => clock.Now);
        using var log = Logging.Create(null, console);
        Parallel.For(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            if (i % 2 == 0) log.Information("line {Number} of thread work {Tail}", i, new string('y', 60));
            else
            {
                lock (clock) clock.Now += TimeSpan.FromSeconds(1);
                display.OnEvalProgress(i, 400);
            }
        });
        var screen = Screen(output.ToString());
        Assert.Equal(201, screen.Count); // 200 log lines and the status under them
        var numbers = screen[..200].Select(l => Regex.Match(l, $@"^\d{{4}} \d\d:\d\d:\d\d \S+ line (\d+) of thread work y{{60}}$"))
            .Select(m => m.Success ? int.Parse(m.Groups[1].Value) : -1).ToArray();
        Assert.Equal(Enumerable.Range(0, 200).Select(i => 2 * i), numbers.Order());
        Assert.StartsWith("evaluating [", screen[200]);
    }
}

using System.Text;
using System.Text.RegularExpressions;

namespace Smile.Tests.Cli;

/// <summary>A model of what a terminal shows for the bytes a `smile` run writes to it, shared by the status line
/// tests on a fake terminal (StatusConsoleTests) and on a real pseudo-terminal (FashionMnistWorkflowCliTests).</summary>
internal static class TerminalScreen
{
    /// <summary>What a terminal shows for <paramref name="output"/>: "\r" returns to the start of the line, ESC[2K
    /// erases the line, "\n" starts a new one, any other character overwrites the one under the cursor. The last
    /// line is included when it holds text (the status line has no "\n"). Any other escape sequence fails the test.</summary>
    public static List<string> Lines(string output)
    {
        var lines = new List<string>();
        var line = new StringBuilder();
        int cursor = 0;
        for (int i = 0; i < output.Length; i++)
        {
            char c = output[i];
            if (c == '\r') cursor = 0;
            else if (c == '\n') { lines.Add(line.ToString()); line.Clear(); cursor = 0; }
            else if (c == '\u001b')
            {
                Assert.True(output.AsSpan(i).StartsWith("\u001b[2K"), $"an escape sequence other than ESC[2K at {i}: {Regex.Escape(output.Substring(i, Math.Min(12, output.Length - i)))}");
                line.Clear();
                i += 3;
            }
            else
            {
                if (cursor < line.Length) line[cursor] = c;
                else line.Append(c);
                cursor++;
            }
        }
        if (line.Length > 0) lines.Add(line.ToString());
        return lines;
    }

    /// <summary><paramref name="output"/> without the keypad and cursor-key mode switches (ESC[?1h, ESC=, their
    /// resets) that .NET's console writes on its own when it starts on a terminal: they change how keys are sent
    /// and draw nothing.</summary>
    public static string WithoutModeSwitches(string output) => Regex.Replace(output, @"\u001b\[\?\d+[hl]|\u001b[=>]", "");
}

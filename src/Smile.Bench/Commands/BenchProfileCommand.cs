using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Smile.Cli;

namespace Smile.Bench.Commands;

/// <summary>`smile bench profile`: where the time of a SMILE step goes, stage by stage and block by block, Smile against
/// Debian's PyTorch 1.13 (src/Smile.Bench/bench/torch_profile.py) measured alternately in the same run.</summary>
internal static class BenchProfileCommand
{
    public static Command Create()
    {
        var arch = Flags.Make("model_arch", "Architecture (a ResNet).", "resnet50");
        var size = Flags.Make("image_size", "Input size.", 224);
        var batch = Flags.Make("batch_size", "Batch size.", 16);
        var repeats = Flags.Make("repeats", "Interleaved rounds: groups of 10 SMILE iterations per side, passes over the blocks and operations.", 3);
        var part = Flags.Make("part", "What to profile: all, steps or blocks.", "all");
        var opBlock = Flags.Optional<string>("op_block", "The block whose operations are timed one by one (default: the block with the worst ratio), e.g. layer3.0.");
        var command = new Command("profile", "Per-stage timings of the SMILE step and per-block forward/backward timings of the ResNet, Smile against PyTorch 1.13, interleaved.")
            { arch, size, batch, repeats, part, opBlock };
        command.SetAction(parse =>
        {
            string a = Smile.Models.ModelFactory.CanonicalName(parse.GetValue(arch)!);
            int s = parse.GetValue(size), b = parse.GetValue(batch), n = parse.GetValue(repeats);
            string what = parse.GetValue(part)!;
            Flags.Require(a.StartsWith("resnet", StringComparison.Ordinal), "model_arch", "the profile cuts ResNets (resnet18 ... resnet152)");
            Flags.ImageSize(s);
            Flags.Require(b >= 2, "batch_size", "must be at least 2");
            Flags.Require(n >= 1, "repeats", "must be at least 1");
            Flags.Require(what is "all" or "steps" or "blocks", "part", "must be all, steps or blocks");
            int threads = TorchSharp.torch.get_num_threads();

            using var peer = TorchPeer.Start(a, s, b, threads, steps: what != "blocks", blocks: what != "steps");
            Console.WriteLine($"smile bench profile: {a}, {s}x{s}, batch {b}, fp32, {threads} threads, {n} rounds; {DateTime.Now:yyyy-MM-dd HH:mm}, load average {LoadAverage()}");
            Console.WriteLine($"Smile: LibTorch {TorchSharp.torch.__version__}, allocator {Smile.Native.AllocatorPolicy.State}, {Smile.Native.ThreadPolicy.State}; " +
                (peer is null ? "PyTorch: not available" : $"PyTorch {peer.Version} (GLIBC_TUNABLES mmap_max=0, trim_threshold=16 GiB; OpenMP {peer.WaitPolicy}{TorchBaseline.KernelsNote("fp32")})"));
            Console.WriteLine("Times in ms (medians over the rounds); ratio = Smile time / PyTorch time, above 1 Smile is slower.");

            if (what != "blocks")
            {
                var steps = ProfileRunner.Steps(a, s, b, n, peer, Console.WriteLine);
                peer?.FreeSteps();
                Console.WriteLine();
                Console.WriteLine($"SMILE step, per iteration (mean over {ProfileRunner.Period} iterations, one EMA among them, as in training):");
                foreach (var line in ProfileTable.Format("stage", [("", steps)])) Console.WriteLine(line);
                Console.WriteLine();
            }
            if (what != "steps")
            {
                var blocks = ProfileRunner.Blocks(a, s, b, n, peer, parse.GetValue(opBlock), Console.WriteLine);
                Console.WriteLine();
                Console.WriteLine("Blocks of the student (train-mode forward with autograd, backward from a fixed random gradient; eval-mode forward without grad; " +
                    "<-- worst: the 3 worst ratios of forward + backward):");
                foreach (var line in ProfileTable.Format("block", [("fwd", blocks.Forward), ("bwd", blocks.Backward), ("eval", blocks.Eval)], flagWorst: 3, flagGroups: 2))
                    Console.WriteLine(line);
                if (blocks.OpBlock is not null)
                {
                    Console.WriteLine();
                    Console.WriteLine($"Operations of {blocks.OpBlock}, each on its own (relu and add out of place; \"slice+1x1\" is how Smile runs a strided 1x1 " +
                        "convolution on the CPU, \"strided 1x1\" how torchvision does, its backward not run in Smile: it is the oneDNN primitive that crashes " +
                        "on some machines; the total counts slice+1x1; the stem's conv1 input does not require grad, as in training):");
                    foreach (var line in ProfileTable.Format("operation", [("fwd", blocks.OpForward!), ("bwd", blocks.OpBackward!)],
                        leaveOutOfTotal: r => r.EndsWith("strided 1x1", StringComparison.Ordinal)))
                        Console.WriteLine(line);
                }
            }
            Console.WriteLine($"load average at the end: {LoadAverage()}");
            return 0;
        });
        return command;
    }

    private static string LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "unknown"; }
    }

    /// <summary>torch_profile.py in serve mode: one JSON command a line in, one reply a line out. Any failure prints a
    /// warning and turns the peer off (null from then on), so Smile's side is still reported.</summary>
    private sealed class TorchPeer : IProfilePeer, IDisposable
    {
        private readonly Process process;
        private bool dead;

        public string Version { get; private set; } = "?";
        public string WaitPolicy { get; }

        private TorchPeer(Process process, string waitPolicy) => (this.process, WaitPolicy) = (process, waitPolicy);

        public static TorchPeer? Start(string arch, int size, int batch, int threads, bool steps, bool blocks)
        {
            string script = Path.Combine(AppContext.BaseDirectory, "bench", "torch_profile.py");
            if (!File.Exists(TorchBaseline.Interpreter) || !File.Exists(script))
            {
                Console.Error.WriteLine("warning: /usr/bin/python3 or bench/torch_profile.py is missing: Smile's side only; run scripts/install-deps.sh");
                return null;
            }
            // The same OpenMP wait policy as this process (smile sets it in its C environment, which .NET's copy does not show).
            var start = TorchBaseline.Start(script, Smile.Native.ThreadPolicy.Settings);
            start.RedirectStandardInput = true;
            start.ArgumentList.Add("serve");
            string policy = Smile.Native.ThreadPolicy.Settings.Count == 0 ? "(default)" : string.Join(", ", Smile.Native.ThreadPolicy.Settings.Select(kv => $"{kv.Key}={kv.Value}"));
            start.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
            var peer = new TorchPeer(Process.Start(start)!, policy);
            peer.process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"[torch_profile.py] {e.Data}"); };
            peer.process.BeginErrorReadLine();
            var reply = peer.Send(new { cmd = "setup", arch, size, batch, threads, steps, blocks });
            if (reply is not JsonElement r) { peer.Dispose(); return null; }
            peer.Version = r.GetProperty("torch").GetString() ?? "?";
            var names = r.GetProperty("stages").EnumerateArray().Select(e => e.GetString()).ToArray();
            if (!names.SequenceEqual(StepStages.Names))
            {
                Console.Error.WriteLine($"warning: torch_profile.py names other stages ({string.Join(", ", names)}): Smile's side only");
                peer.Dispose();
                return null;
            }
            return peer;
        }

        public double[]? Steps(int iterations)
        {
            if (Send(new { cmd = "steps", n = iterations }) is not JsonElement r) return null;
            var stages = r.GetProperty("stages");
            return StepStages.Names.Select(name => stages.GetProperty(name).GetDouble()).ToArray();
        }

        public BlockTiming? Block(int index) =>
            Send(new { cmd = "block", index }) is JsonElement r
                ? new BlockTiming(r.GetProperty("fwd").GetDouble(), r.GetProperty("bwd").GetDouble(), r.GetProperty("eval").GetDouble())
                : null;

        public IReadOnlyList<OpTiming>? Ops(string block) =>
            Send(new { cmd = "ops", name = block }) is JsonElement r
                ? r.GetProperty("ops").EnumerateArray().Select(o => new OpTiming(o.GetProperty("name").GetString()!, o.GetProperty("fwd").GetDouble(), o.GetProperty("bwd").GetDouble())).ToList()
                : null;

        /// <summary>Lets PyTorch free the SMILE step's models before the block bench.</summary>
        public void FreeSteps() => Send(new { cmd = "free_steps" });

        private JsonElement? Send(object command)
        {
            if (dead) return null;
            try
            {
                process.StandardInput.WriteLine(JsonSerializer.Serialize(command));
                process.StandardInput.Flush();
                string? line;
                // Anything else on the child's stdout (oneDNN's verbose log, when asked for) is passed on to stderr.
                while ((line = process.StandardOutput.ReadLine()) is not null && !line.StartsWith('{'))
                    Console.Error.WriteLine($"[torch_profile.py] {line}");
                if (line is null) return Fail("torch_profile.py ended");
                var reply = JsonDocument.Parse(line).RootElement.Clone();
                return reply.TryGetProperty("error", out var error) ? Fail(error.GetString()) : reply;
            }
            catch (IOException e) { return Fail(e.Message); }
        }

        private JsonElement? Fail(string? why)
        {
            Console.Error.WriteLine($"warning: the PyTorch side failed ({why}): Smile's side only from here on");
            dead = true;
            return null;
        }

        public void Dispose()
        {
            try
            {
                if (!process.HasExited)
                {
                    process.StandardInput.WriteLine("{\"cmd\": \"quit\"}");
                    process.StandardInput.Close();
                    if (!process.WaitForExit(TimeSpan.FromSeconds(30))) process.Kill();
                }
            }
            catch (IOException) { }
            process.Dispose();
        }
    }
}

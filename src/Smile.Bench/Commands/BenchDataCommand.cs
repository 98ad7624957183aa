using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Smile.Cli;
using Smile.Data;

namespace Smile.Bench.Commands;

/// <summary>`smile bench data`: decode + train-transform throughput of Smile against the reference's Pillow
/// pipeline on the same generated JPEGs, in the same run.</summary>
internal static class BenchDataCommand
{
    private static readonly (int Width, int Height, string Like)[] Sizes = { (500, 375, "CUB"), (1000, 700, "Cars"), (2000, 1300, "Aircraft") };

    public static Command Create()
    {
        var images = new Option<int>("--images") { Description = "Generated JPEGs per size.", DefaultValueFactory = _ => 24 };
        var repeats = new Option<int>("--repeats") { Description = "Passes over the images per measurement.", DefaultValueFactory = _ => 3 };
        var workers = new Option<int>("--workers") { Description = "Threads for the all-workers figure (default: the number of cores).", DefaultValueFactory = _ => 0 };
        var size = new Option<int>("--image_size", "--image-size") { Description = "Crop size of the train transform.", DefaultValueFactory = _ => 224 };
        var command = new Command("data", "Decode + train transform throughput, Smile against Pillow, at CUB, Cars and Aircraft image sizes.") { images, repeats, workers, size };
        command.SetAction(parse =>
        {
            int count = parse.GetValue(images), passes = parse.GetValue(repeats), crop = parse.GetValue(size);
            int threads = parse.GetValue(workers) > 0 ? parse.GetValue(workers) : Environment.ProcessorCount;
            if (count < 1) throw new UsageException("--images: must be at least 1");
            if (passes < 1) throw new UsageException("--repeats: must be at least 1");
            Flags.Require(parse.GetValue(workers) >= 0, "workers", "must be 0 (all cores) or more");
            Flags.ImageSize(crop);
            var dir = Directory.CreateTempSubdirectory("smile-bench-data-").FullName;
            try
            {
                Console.WriteLine($"decode + train transform (resize to {TransformSpec.ResizeFor(crop)}, flip, crop {crop}, normalise); {count} images x {passes} passes; {threads} workers; medians of 3 interleaved rounds");
                Console.WriteLine($"{"size",-16} {"Smile 1 thread",15} {"Pillow 1 thread",16} {"ratio/core",11} {$"Smile {threads} thr.",15}");
                foreach (var (w, h, like) in Sizes)
                {
                    var files = DataBenchmark.GenerateJpegs(Path.Combine(dir, $"{w}x{h}"), w, h, count);
                    // Smile and Pillow alternate, three rounds, medians: machine drift hits both alike.
                    var smileSingle = new List<double>();
                    var smileAll = new List<double>();
                    var pillowSingle = new List<double>();
                    for (int round = 0; round < 3; round++)
                    {
                        var measured = DataBenchmark.Measure(files, crop, threads, passes);
                        smileSingle.Add(measured.SingleThreadPerSecond);
                        smileAll.Add(measured.AllWorkersPerSecond);
                        if (RunPillow(files, crop, passes) is double p) pillowSingle.Add(p);
                    }
                    var smile = new DataThroughput(count * passes, Median(smileSingle), threads, Median(smileAll));
                    double? pillow = pillowSingle.Count > 0 ? Median(pillowSingle) : null;
                    string ratio = pillow is double q0 ? $"{smile.SingleThreadPerSecond / q0,10:F2}x" : "       n/a";
                    string pil = pillow is double q ? $"{q,12:F1} im/s" : "   (no Pillow)";
                    Console.WriteLine($"{$"{w}x{h} ({like})",-16} {smile.SingleThreadPerSecond,10:F1} im/s {pil} {ratio} {smile.AllWorkersPerSecond,10:F1} im/s");
                }
                return 0;
            }
            finally
            {
                Directory.Delete(dir, recursive: true);
            }
        });
        return command;
    }

    private static double Median(IEnumerable<double> values) => ProfileTable.Median(values);

    /// <summary>The reference pipeline in Pillow 9.4 (Debian's python3-pil) on one core; null when it cannot run.</summary>
    private static double? RunPillow(IReadOnlyList<string> files, int crop, int repeats)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "bench", "pillow_pipeline.py");
        if (!File.Exists(TorchBaseline.Interpreter) || !File.Exists(script)) return null;
        var start = new ProcessStartInfo(TorchBaseline.Interpreter) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(crop.ToString(System.Globalization.CultureInfo.InvariantCulture));
        start.ArgumentList.Add(repeats.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var f in files) start.ArgumentList.Add(f);
        start.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            Console.Error.WriteLine($"warning: the Pillow baseline failed ({error.Trim().Split('\n').LastOrDefault()}); run scripts/install-deps.sh");
            return null;
        }
        using var json = JsonDocument.Parse(output);
        return json.RootElement.GetProperty("images_per_s").GetDouble();
    }
}

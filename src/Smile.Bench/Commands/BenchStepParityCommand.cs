using System.CommandLine;
using System.Globalization;
using Smile.Cli;
using Smile.Methods;
using Smile.Models;
using Smile.Training;
using Smile.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Bench.Commands;

/// <summary>
/// `smile bench step-parity`: the engine's training step (<see cref="TrainingStep"/>) on --device, on the weights,
/// batches and mixes of one case of the parity tests' PyTorch reference
/// (tests/Smile.Core.Tests/python/training_step_reference.py, the same procedure as
/// tests/Smile.Core.Tests/Training/TrainingStepParityTests.cs: resnet18, two iterations, Nesterov SGD, SMILE's mean
/// teacher). Writes each iteration's loss terms and the student after it, and the teacher at the end, for
/// scripts/gpu_check.py to compare with the reference's. TF32 is off on CUDA: the comparison is of fp32 arithmetic.
/// </summary>
internal static class BenchStepParityCommand
{
    private const double LearningRate = 0.01; // the reference's
    private const int TargetClasses = 5, SourceClasses = 1000;

    public static Command Create()
    {
        var reference = Flags.Optional<string>("reference", "Folder written by training_step_reference.py (inputs, source and student weights, CASE.safetensors).");
        var caseName = Flags.Make("case", "The reference case to replay (its regularizer, weight decay and initial student).", "smile_distinct");
        var device = Flags.Make("device", "cpu, cuda, cuda:N or auto.", "cpu");
        var output = Flags.Optional<string>("out", "Safetensors file for the loss terms, the student after each step and the teacher.");
        var command = new Command("step-parity", "Two training steps of a parity-test case on a device, for comparison with PyTorch's (scripts/gpu-check.sh).")
            { reference, caseName, device, output };
        command.SetAction(parse =>
        {
            string dir = parse.GetValue(reference) is { } r && Directory.Exists(r) ? r
                : throw new UsageException($"--reference: {parse.GetValue(reference) ?? "(none given)"} is not a folder");
            string name = parse.GetValue(caseName)!;
            string casePath = Flags.ExistingFile(Path.Combine(dir, $"{name}.safetensors"), "case");
            string outPath = Flags.OutputFile(parse.GetValue(output), "out") ?? throw new UsageException("--out: is required");
            var target = ParityDevice.Parse(parse.GetValue(device)!);

            var meta = SafetensorsFile.ReadMetadata(casePath);
            var results = Replay(dir, meta, target);
            Flags.Writing("out", outPath, () => SafetensorsFile.Write(outPath, results, new Dictionary<string, string>
            {
                ["case"] = name, ["device"] = target.ToString(),
            }));
            foreach (var t in results.Values) t.Dispose();
            Console.WriteLine($"wrote {outPath}: case {name}, 2 steps on {target}");
            return 0;
        });
        return command;
    }

    /// <summary>The reference's two iterations through the engine's step; every result is a CPU tensor the caller owns.</summary>
    private static Dictionary<string, Tensor> Replay(string dir, IReadOnlyDictionary<string, string> meta, Device target)
    {
        var c = CultureInfo.InvariantCulture;
        var results = new Dictionary<string, Tensor>();
        using var scope = NewDisposeScope();
        var inputs = SafetensorsFile.Read(Path.Combine(dir, "inputs.safetensors"));
        var method = Regularizers.Create(meta["regularizer"]);
        using var student = ModelFactory.Create("resnet18", TargetClasses, SourceClasses);
        StateDictLoader.Load(student, SafetensorsFile.Read(Path.Combine(dir, meta["student_init"])), meta["student_init"]);
        using var teacher = method.NeedsTeacher ? ModelFactory.Create("resnet18", SourceClasses) : null;
        if (teacher is not null)
        {
            StateDictLoader.Load(teacher, SafetensorsFile.Read(Path.Combine(dir, "source.safetensors")), "source.safetensors");
            teacher.to(target).eval();
        }
        student.to(target).train();
        using var ctx = new TrainingContext(student, teacher, new LossOptions(L2spLambda: double.Parse(meta["l2sp_lambda"], c)));
        using var sgd = new NesterovSgd(
            student.named_parameters().Select(p => (p.name, p.parameter, method.WeightDecayApplies(p.name))), LearningRate,
            weightDecay: double.Parse(meta["weight_decay"], c));
        var lams = inputs["lam"].data<double>().ToArray();
        for (int it = 0; it < 2; it++)
        {
            var mix = method.UsesMixup ? new MixPlan(lams[it], inputs["perm"][it].data<long>().ToArray()) : null;
            var step = TrainingStep.Run(ctx, method, sgd, new StepBatch(inputs[$"x{it}"].to(target), inputs[$"y{it}"].to(target)), mix, it);
            foreach (var (term, value) in step.Terms) results[$"it{it}.{term}"] = tensor(value, ScalarType.Float64).MoveToOuterDisposeScope();
            results[$"it{it}.total"] = tensor(step.Loss, ScalarType.Float64).MoveToOuterDisposeScope();
            foreach (var (name, value) in student.state_dict())
                results[$"it{it}.student.{name}"] = value.detach().cpu().clone().MoveToOuterDisposeScope();
        }
        if (teacher is not null)
            foreach (var (name, value) in teacher.state_dict())
                results[$"teacher.{name}"] = value.detach().cpu().clone().MoveToOuterDisposeScope();
        return results;
    }
}

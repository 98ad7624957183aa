using System.Globalization;
using Smile.Models;
using Smile.Methods;
using Smile.Training;
using Smile.Weights;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

/// <summary>
/// Runs python/training_step_reference.py once: plain PyTorch (Debian's 1.13) training steps of each
/// regularizer, written from the published algorithm, with their initial weights, inputs, loss terms and the
/// weights after each step. About 800 MB in a temporary folder, deleted afterwards.
/// </summary>
public sealed class TrainingStepReferenceFixture : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("smile-training-").FullName;

    public TrainingStepReferenceFixture() => PythonRunner.Run("training_step_reference.py", Dir);

    public string File(string name) => Path.Combine(Dir, name);

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

/// <summary>
/// Two training iterations (indices 0 and 1) of each regularizer against PyTorch: resnet18 student (5 classes +
/// a 1000-class aux head, train mode) and teacher (1000 classes, eval mode), 4 images of 64x64, fixed mixes
/// (lam 0.7, permutation [2,0,3,1]; lam 0.6, [1,3,0,2]), SGD lr 0.01, Nesterov momentum 0.9, weight decay 1e-4
/// (0.1 in the *_wd cases, where its effect is large enough to see). "smile_distinct" starts the student's
/// backbone away from the teacher's, so that the mean-teacher update moves the teacher visibly. Compared:
/// <list type="bullet">
/// <item>each weighted loss term and the total: |smile - torch| &lt;= 1e-5 * |torch| + 1e-7;</item>
/// <item>every student tensor after each step (parameters, BatchNorm running statistics):
///   max |smile - torch| / max |torch| &lt;= 1e-5 per tensor; num_batches_tracked exactly;</item>
/// <item>the teacher after the mean-teacher update of iteration 0: its parameters with the same measure; its
///   fc.* and buffers exactly the source's; iteration 1 must leave it bitwise as it was.</item>
/// </list>
/// </summary>
public sealed class TrainingStepParityTests(TrainingStepReferenceFixture reference, ITestOutputHelper output)
    : IClassFixture<TrainingStepReferenceFixture>
{
    private const double TermRelative = 1e-5, TermAbsolute = 1e-7, StateRelative = 1e-5;
    private const double LearningRate = 0.01;
    private const int TargetClasses = 5, SourceClasses = 1000;

    public static TheoryData<string> Cases() => new() { "smile", "l2", "mixup", "l2sp", "smile_l2sp", "smile_distinct", "l2_wd", "l2sp_wd" };

    [Theory]
    [MemberData(nameof(Cases))]
    public void TwoStepsMatchPyTorch(string caseName)
    {
        using var scope = NewDisposeScope();
        var (expected, meta) = SafetensorsFile.ReadWithMetadata(reference.File($"{caseName}.safetensors"));
        var inputs = SafetensorsFile.Read(reference.File("inputs.safetensors"));
        var source = SafetensorsFile.Read(reference.File("source.safetensors"));

        var regularizer = Regularizers.Create(meta["regularizer"]);
        var options = new LossOptions(L2spLambda: double.Parse(meta["l2sp_lambda"], CultureInfo.InvariantCulture));
        using var student = ModelFactory.Create("resnet18", TargetClasses, SourceClasses);
        StateDictLoader.Load(student, SafetensorsFile.Read(reference.File(meta["student_init"])), meta["student_init"]);
        using var teacher = regularizer.NeedsTeacher ? ModelFactory.Create("resnet18", SourceClasses) : null;
        if (teacher is not null) StateDictLoader.Load(teacher, source, "source.safetensors");
        student.train();

        using var ctx = new TrainingContext(student, teacher, options);
        using var sgd = new NesterovSgd(
            student.named_parameters().Select(p => (p.name, p.parameter, regularizer.WeightDecayApplies(p.name))), LearningRate,
            weightDecay: double.Parse(meta["weight_decay"], CultureInfo.InvariantCulture));

        var check = new Comparison();
        var lams = inputs["lam"].data<double>().ToArray();
        for (int it = 0; it < 2; it++)
        {
            var plan = new MixPlan(lams[it], inputs["perm"][it].data<long>().ToArray());
            sgd.ZeroGrad();
            using var losses = regularizer.Loss(ctx, new StepBatch(inputs[$"x{it}"], inputs[$"y{it}"]), regularizer.UsesMixup ? plan : null);

            var prefix = $"it{it}.";
            var expectedTerms = expected.Keys
                .Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && !k.Contains(".student.") && k != prefix + "total")
                .Select(k => k[prefix.Length..]).Order().ToList();
            Assert.Equal(expectedTerms, losses.Terms.Keys.Order().ToList());
            foreach (var term in expectedTerms)
                check.Scalar($"{prefix}{term}", expected[prefix + term], losses.Terms[term]);
            check.Scalar($"{prefix}total", expected[prefix + "total"], losses.Total);

            losses.Total.backward();
            sgd.Step();
            var teacherBefore = Snapshot(teacher);
            regularizer.AfterStep(ctx, it);
            if (teacher is not null && it % 10 != 0)
                check.Identical($"teacher after AfterStep(iteration {it}), which is not a mean-teacher iteration", teacherBefore!, Snapshot(teacher)!);

            foreach (var (name, tensor) in student.state_dict())
                check.State($"{prefix}student.{name}", expected[$"{prefix}student.{name}"], tensor);
        }

        if (teacher is not null)
        {
            double moved = 0;
            foreach (var (name, tensor) in teacher.state_dict())
            {
                bool isParameter = teacher.named_parameters().Any(p => p.name == name);
                if (isParameter && !name.StartsWith("fc.", StringComparison.Ordinal))
                {
                    check.State($"teacher.{name}", expected[$"teacher.{name}"], tensor);
                    moved = Math.Max(moved, RelativeMaxDiff(source[name], tensor));
                }
                else
                {
                    // The teacher's classifier and BatchNorm statistics are the source's, bit for bit.
                    check.Identical($"teacher.{name} (fc or buffer: never averaged)", source[name], tensor);
                }
            }
            output.WriteLine($"{caseName}: largest relative move of a teacher parameter by the mean-teacher update: {moved:E2}");
            if (caseName == "smile_distinct")
                Assert.True(moved > 100 * StateRelative,
                    $"the mean-teacher update moved the teacher by only {moved:E2}: too little for the comparison to see it");
        }

        output.WriteLine($"{caseName}: {check.Summary()}");
        Assert.True(check.Failures.Count == 0, $"{caseName}: {check.Failures.Count} mismatches:\n{string.Join("\n", check.Failures.Take(20))}\n{check.Summary()}");
    }

    private static Dictionary<string, Tensor>? Snapshot(nn.Module? module) =>
        module?.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

    /// <summary>max |actual - expected| / max |expected| in float64 (0 when both are 0).</summary>
    private static double RelativeMaxDiff(Tensor expected, Tensor actual)
    {
        using var scope = NewDisposeScope();
        var e = expected.to_type(ScalarType.Float64);
        double diff = (actual.to_type(ScalarType.Float64) - e).abs().max().item<double>();
        double scale = e.abs().max().item<double>();
        return scale == 0 ? diff : diff / scale;
    }

    /// <summary>Collects every mismatch (not just the first) and the largest differences seen, for the log.</summary>
    private sealed class Comparison
    {
        public List<string> Failures { get; } = [];
        private double worstTerm, worstState;
        private string worstTermName = "", worstStateName = "";

        public void Scalar(string name, Tensor expected, Tensor actual)
        {
            double e = expected.to_type(ScalarType.Float64).item<double>();
            double a = actual.to_type(ScalarType.Float64).item<double>();
            double diff = Math.Abs(a - e);
            double relative = e == 0 ? diff : diff / Math.Abs(e);
            if (relative > worstTerm) (worstTerm, worstTermName) = (relative, name);
            if (!(diff <= TermRelative * Math.Abs(e) + TermAbsolute))
                Failures.Add($"{name}: {a:R}, expected {e:R} (|difference| {diff:E2})");
        }

        public void State(string name, Tensor expected, Tensor actual)
        {
            if (!expected.shape.SequenceEqual(actual.shape))
            {
                Failures.Add($"{name}: shape [{string.Join(", ", actual.shape)}], expected [{string.Join(", ", expected.shape)}]");
                return;
            }
            if (expected.dtype == ScalarType.Int64)
            {
                Identical(name, expected, actual);
                return;
            }
            double relative = RelativeMaxDiff(expected, actual);
            if (relative > worstState) (worstState, worstStateName) = (relative, name);
            if (!(relative <= StateRelative))
                Failures.Add($"{name}: max |difference| / max |expected| = {relative:E2}");
        }

        public void Identical(string name, Tensor expected, Tensor actual)
        {
            if (!expected.shape.SequenceEqual(actual.shape) || !expected.to(actual.dtype).eq(actual).all().item<bool>())
                Failures.Add($"{name}: not identical to the expected tensor");
        }

        public void Identical(string name, Dictionary<string, Tensor> expected, Dictionary<string, Tensor> actual)
        {
            foreach (var (key, tensor) in expected) Identical($"{name}: {key}", tensor, actual[key]);
        }

        public string Summary() =>
            $"largest loss-term relative difference {worstTerm:E2} ({worstTermName}); " +
            $"largest tensor max|diff|/max|expected| {worstState:E2} ({worstStateName})";
    }
}

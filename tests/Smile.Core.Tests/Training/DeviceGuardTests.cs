using System.Reflection;
using Smile.Methods;
using Smile.Models;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

/// <summary>Runs alone: it changes LibTorch's process-wide default device.</summary>
[CollectionDefinition(nameof(DefaultDeviceCollection), DisableParallelization = true)]
public sealed class DefaultDeviceCollection;

/// <summary>
/// The stray-tensor guard. On a GPU, a tensor that a step creates without naming a device (a constant, an index
/// built on the host) lands on the CPU and fails the run or silently copies every step; on a CPU machine it goes
/// unnoticed, because everything is on the CPU. So these tests keep the models on the CPU and make LibTorch's
/// default device the meta device (shapes, no data), which every CPU build has: a tensor made without a device
/// is then a meta tensor. Mixed into the computation it throws (as a CPU tensor does among CUDA ones, or meta has
/// no kernel for the operation); merely kept, it is found among the tensors the step's dispose scope owns at its
/// end. The optimizer's state, the models, the mean teacher and the L2-SP anchor must be on the CPU too. The
/// planted-stray tests show both halves fail.
/// </summary>
[Collection(nameof(DefaultDeviceCollection))]
public sealed class DeviceGuardTests
{
    private static readonly Device Meta = new(DeviceType.META);
    private static readonly Device Model = CPU;
    private const int Batch = 4, Size = 32, Classes = 3, SourceClasses = 10;

    [Theory]
    [MemberData(nameof(StepMethods.WithOptimizers), MemberType = typeof(StepMethods))]
    public void EveryTensorOfATrainingStepIsOnTheModelsDevice(string methodName, string optimizerName)
    {
        using var method = StepMethods.Create(methodName, Classes, SourceClasses, Model);
        var strays = RunSteps(method, optimizerName, steps: 2);
        Assert.Empty(strays);
    }

    [Fact]
    public void APlantedStrayInAnOperationFailsTheStep()
    {
        using var method = new StrayMethod(mixIntoLoss: true);
        var e = Assert.ThrowsAny<Exception>(() => RunSteps(method, "sgd", steps: 1));
        Assert.Contains("device", e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void APlantedStrayThatNoOperationChecksIsFoundInTheStepsScope()
    {
        using var method = new StrayMethod(mixIntoLoss: false);
        var strays = RunSteps(method, "sgd", steps: 1);
        Assert.Contains(strays, s => s.Contains("meta", StringComparison.OrdinalIgnoreCase) && s.Contains("[4, 3]", StringComparison.Ordinal));
    }

    [Fact]
    public void ACheckpointLoadsOntoTheRequestedDevice()
    {
        var dir = Directory.CreateTempSubdirectory("smile-device-").FullName;
        try
        {
            string path = Path.Combine(dir, "run_Best.safetensors");
            using (var model = ModelFactory.Create("resnet18", Classes))
                Smile.Weights.Checkpoint.Save(path, model, new Smile.Weights.CheckpointInfo("resnet18", ["a", "b", "c"], null, Size,
                    [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], 0, 0, "l2", new Dictionary<string, string>()));
            using var restore = StraysOnMeta();
            using var trained = Smile.Evaluation.TrainedModel.Load(path, Model);
            var off = OffDevice(trained.Model.named_parameters().Select(p => (p.name, (Tensor)p.parameter))
                .Concat(trained.Model.named_buffers()), "checkpoint").ToList();
            Assert.True(off.Count == 0, string.Join("; ", off.Take(5)));
            // And its eval-mode forward, as evaluation runs it.
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var logits = trained.Model.call(zeros(Batch, 3, Size, Size, device: Model)).Logits;
            Assert.Equal(Model.type, logits.device_type);
            Assert.Equal(new long[] { Batch, Classes }, logits.shape);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("bf16")]
    public void AnEvaluationPassKeepsEveryTensorOnTheModelsDevice(string precision)
    {
        var root = EvalFolder();
        try
        {
            torch.random.manual_seed(4);
            using var model = ModelFactory.Create("resnet18", Classes).to(Model);
            var arithmetic = MixedPrecision.Create(precision, out _);
            Smile.Evaluation.EvalResult result;
            using (StraysOnMeta())
                (result, _) = Smile.Evaluation.Evaluator.EvaluateWithOutputs(model, EvalLoader(root), Model, precision: arithmetic);
            Assert.Equal(Classes * 2, result.Count);
            Assert.True(double.IsFinite(result.Loss), $"loss {result.Loss}");
            var off = OffDevice(model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Concat(model.named_buffers()), "model").ToList();
            Assert.True(off.Count == 0, string.Join("; ", off.Take(5)));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void APlantedStrayInTheForwardFailsTheEvaluation()
    {
        var root = EvalFolder();
        try
        {
            using var model = new StrayClassifier().to(Model);
            using (StraysOnMeta())
            {
                var e = Assert.ThrowsAny<Exception>(() => Smile.Evaluation.Evaluator.Evaluate(model, EvalLoader(root), Model));
                Assert.Contains("meta", e.Message, StringComparison.OrdinalIgnoreCase);
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Two generated JPEGs per class, in class folders.</summary>
    private static string EvalFolder()
    {
        var root = Directory.CreateTempSubdirectory("smile-device-eval-").FullName;
        int seed = 0;
        for (int c = 0; c < Classes; c++)
        {
            var dir = Directory.CreateDirectory(Path.Combine(root, $"c{c}")).FullName;
            for (int i = 0; i < 2; i++)
                Smile.Data.SyntheticPhotos.WriteJpeg(Smile.Data.SyntheticPhotos.Render(40 + 3 * i, 36, seed++), Path.Combine(dir, $"{i}.jpg"));
        }
        return root;
    }

    private static Smile.Data.BatchLoader EvalLoader(string root) =>
        new(Smile.Data.ImageFolder.ForEvaluation(root, Enumerable.Range(0, Classes).Select(c => $"c{c}").ToArray()),
            Smile.Data.TransformSpec.ForEvaluation(Size), new Smile.Data.LoaderOptions(BatchSize: 4, Workers: 1, Shuffle: false, DropLast: false));

    /// <summary>Runs <paramref name="steps"/> steps of <paramref name="method"/> with strays on the meta device;
    /// returns every tensor found off the models' device (in the step's scope at its end, the optimizer state, the models, the method's state).</summary>
    private static List<string> RunSteps(IRegularizer method, string optimizerName, int steps)
    {
        var strays = new List<string>();
        torch.random.manual_seed(3);
        using var teacher = method.NeedsTeacher ? ModelFactory.Create("resnet18", SourceClasses).to(Model) : null;
        teacher?.eval();
        using var student = ModelFactory.Create("resnet18", Classes, method.NeedsTeacher ? SourceClasses : null).to(Model);
        student.train();
        using var ctx = new TrainingContext(student, teacher, new LossOptions(1e-4, method.DefaultL2spLambda));
        using var optimizer = Optimizers.Create(optimizerName,
            student.named_parameters().Select(p => (p.name, p.parameter, method.WeightDecayApplies(p.name))), 0.01, 1e-4);
        var random = new Random(5);
        var timer = new ScopeInspector(strays);
        using (StraysOnMeta())
            for (int i = 0; i < steps; i++)
            {
                using var scope = NewDisposeScope();
                var batch = new StepBatch(randn(Batch, 3, Size, Size, device: Model), randint(0, Classes, Batch, device: Model));
                var mix = method.UsesMixup ? method.DrawMix(random, Batch) : null;
                TrainingStep.Run(ctx, method.ForIteration(i, 10_000), optimizer, batch, mix, i, timer); // 10,000: the method's own step, before any plain tail
            }
        Assert.True(timer.Inspections >= steps, "the step's end was never marked: the scope went uninspected");
        strays.AddRange(OffDevice(optimizer.State.Select(kv => (kv.Key, kv.Value)), "optimizer"));
        strays.AddRange(OffDevice(student.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Concat(student.named_buffers()), "student"));
        if (teacher is not null)
            strays.AddRange(OffDevice(teacher.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Concat(teacher.named_buffers()), "teacher"));
        strays.AddRange(OffDevice(ctx.PretrainedBackbone.Select(kv => (kv.Key, kv.Value)), "L2-SP anchor"));
        return strays;
    }

    /// <summary>Makes the meta device the default until disposed: a tensor created without a device is a stray.</summary>
    private static IDisposable StraysOnMeta()
    {
        var previous = torch.get_default_device();
        torch.set_default_device(Meta);
        return new Restore(() => torch.set_default_device(previous));
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }

    private static IEnumerable<string> OffDevice(IEnumerable<(string Name, Tensor Tensor)> tensors, string owner) =>
        tensors.Where(t => t.Tensor.device_type != Model.type)
            .Select(t => $"{owner} {t.Name}: {t.Tensor.device} [{string.Join(", ", t.Tensor.shape)}]");

    /// <summary>At the step's last mark (inside its dispose scope), lists every live tensor of that scope that is
    /// not on the models' device. TorchSharp keeps the current scope internal, so it is read by reflection.</summary>
    private sealed class ScopeInspector(List<string> strays) : IStepTimer
    {
        public int Inspections { get; private set; }

        public void Mark(StepStage stage)
        {
            if (stage != StepStage.Ema) return;
            Inspections++;
            foreach (var tensor in CurrentScopeTensors().Where(t => !t.IsInvalid && t.device_type != Model.type))
                strays.Add($"step scope: {tensor.device} [{string.Join(", ", tensor.shape)}] {tensor.dtype}");
        }

        private static IEnumerable<Tensor> CurrentScopeTensors()
        {
            var manager = typeof(DisposeScopeManager).GetProperty("ThreadSingleton", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!;
            var scope = (DisposeScope?)manager.GetType().GetProperty("CurrentDisposeScope", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(manager);
            Assert.NotNull(scope);
            return scope.DisposablesView.OfType<Tensor>().ToList();
        }
    }

    /// <summary>A classifier with a planted stray in its forward: its logits multiplied by a constant made without a device.</summary>
    private sealed class StrayClassifier : ImageClassifier
    {
        private readonly TorchSharp.Modules.Linear head = nn.Linear(3, Classes);

        public StrayClassifier() : base("stray") => RegisterComponents();

        public override string Architecture => "stray";
        public override string HeadName => "head";
        public override int NumClasses => Classes;
        public override int? AuxClasses => null;
        public override int FeatureChannels => 3;

        public override ClassifierOutput forward(Tensor images)
        {
            using var scope = NewDisposeScope();
            var features = images.mean([2, 3], keepdim: true);
            var logits = head.call(features.flatten(1)) * ones(images.shape[0], Classes); // the planted stray: no device
            return ClassifierOutput.LeavingScope(logits, features, null);
        }
    }

    /// <summary>A method with a planted stray: a [batch, classes] constant made without a device, either
    /// multiplied into the loss or only created.</summary>
    private sealed class StrayMethod(bool mixIntoLoss) : IRegularizer
    {
        public string Name => "stray";

        public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix)
        {
            using var scope = NewDisposeScope();
            var logits = ctx.Student.call(batch.Images).Logits;
            var constant = ones(logits.shape[0], logits.shape[1]); // the planted stray: no device
            var main = nn.functional.cross_entropy(mixIntoLoss ? logits * constant : logits, batch.Labels);
            if (!mixIntoLoss) constant.MoveToOuterDisposeScope(); // kept alive into the step's scope, used by nothing
            return LossTerms.Finish([("main", main)], LossTerms.Accuracy(logits, batch.Labels));
        }
    }
}

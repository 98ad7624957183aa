using Smile.Models;
using Smile.Training;
using Smile.Weights;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Adam = Smile.Training.Adam;

namespace Smile.Tests.Training;

/// <summary>
/// The flat (multi-tensor) optimizers and EMA give bit for bit the weights of the per-tensor loops they replace
/// (<see cref="PerTensorReference"/>): over several steps, with weight decay on some parameters and off others, a
/// learning-rate change, a float64 group beside the float32 ones, sizes that need padding, and steps where a
/// parameter has no gradient (that group goes parameter by parameter). Gradients and data come from System.Random,
/// not LibTorch's global generator, which tests running beside these draw from.
/// </summary>
public sealed class FlatOptimizerTests
{
    private const double Momentum = 0.9, WeightDecay = 0.05;

    /// <summary>Shapes, dtype and decay flag of the parameters: float32 with and without decay (sizes that are not
    /// multiples of the 16-element alignment), and one float64 parameter: three groups.</summary>
    private static readonly (string Name, long[] Shape, ScalarType DType, bool Decay)[] Specs =
    [
        ("conv", [4, 3, 3, 3], ScalarType.Float32, true),
        ("bn", [7], ScalarType.Float32, false),
        ("fc", [5, 33], ScalarType.Float32, true),
        ("bias", [5], ScalarType.Float32, true),
        ("wide", [1000], ScalarType.Float32, false),
        ("double", [3, 11], ScalarType.Float64, true),
    ];

    private static readonly double[] Rates = [0.1, 0.1, 0.05, 0.02, 0.02];

    /// <summary>Which parameter has no gradient at each step (null: all have one): "bn" at step 1 and "bias" at step 3.
    /// Their groups are stepped parameter by parameter at those steps; for SGD also bn's group at step 2 (bn's
    /// momentum starts then, its neighbour's did at step 1); for Adam from then on (step counts apart).</summary>
    private static readonly string?[] Missing = ["bn", null, "bias", null, null];

    /// <summary>Chunk sizes of the CPU's flat update: the default (each group one chunk here) and 120 elements, which
    /// cuts the decayed float32 group into three chunks ("conv" with its padding, "fc" alone as larger than a chunk,
    /// "bias") and the other into two.</summary>
    private const long DefaultChunk = 1 << 20, SmallChunk = 120;

    public static TheoryData<bool, long> NesterovOrNotByChunk() => new() { { true, DefaultChunk }, { false, DefaultChunk }, { true, SmallChunk }, { false, SmallChunk } };

    [Theory]
    [MemberData(nameof(NesterovOrNotByChunk))]
    public void SgdMatchesThePerTensorLoopBitForBit(bool nesterov, long chunkElements)
    {
        using var scope = NewDisposeScope();
        var (flat, reference) = TwinParameters(seed: 1);
        using var sgd = new MomentumSgd(flat, Rates[0], Momentum, WeightDecay, nesterov) { CpuChunkElements = chunkElements };
        using var loop = new PerTensorReference.Sgd(reference, Momentum, WeightDecay, nesterov);
        Assert.Equal(3, sgd.GroupCount);

        var rng = new Random(2);
        var flatGroupsPerStep = new List<int>();
        for (int step = 0; step < Rates.Length; step++)
        {
            sgd.LearningRate = loop.LearningRate = Rates[step];
            SetGradients(flat, reference, rng, Missing[step]);
            sgd.Step();
            loop.Step();
            flatGroupsPerStep.Add(sgd.LastStepFlatGroups);
            AssertParametersIdentical(reference, flat, $"step {step + 1}");
            Assert.Equal(loop.Buffers.Keys.Order(), sgd.MomentumBuffers.Keys.Order());
            foreach (var (name, buffer) in loop.Buffers)
                AssertIdentical(buffer, sgd.MomentumBuffers[name], $"momentum of {name} after step {step + 1}");
            sgd.ZeroGrad();
            Assert.All(flat, p => Assert.Null(p.Param.grad));
        }
        // Step 1: bn missing; 2: bn's buffer starts, its neighbour's has; 3: bias missing; 4 and 5: all flat.
        Assert.Equal([2, 2, 2, 3, 3], flatGroupsPerStep);
    }

    [Theory]
    [InlineData(DefaultChunk)]
    [InlineData(SmallChunk)]
    public void AdamMatchesThePerTensorLoopBitForBit(long chunkElements)
    {
        using var scope = NewDisposeScope();
        var (flat, reference) = TwinParameters(seed: 3);
        using var adam = new Adam(flat, Rates[0], WeightDecay) { CpuChunkElements = chunkElements };
        using var loop = new PerTensorReference.Adam(reference, WeightDecay);

        var rng = new Random(4);
        var flatGroupsPerStep = new List<int>();
        for (int step = 0; step < Rates.Length; step++)
        {
            adam.LearningRate = loop.LearningRate = Rates[step];
            SetGradients(flat, reference, rng, Missing[step]);
            adam.Step();
            loop.Step();
            flatGroupsPerStep.Add(adam.LastStepFlatGroups);
            AssertParametersIdentical(reference, flat, $"step {step + 1}");
            var state = adam.State;
            Assert.Equal(loop.Moments.Count * 3, state.Count);
            foreach (var (name, (m, v, count)) in loop.Moments)
            {
                AssertIdentical(m, state["exp_avg." + name], $"exp_avg.{name} after step {step + 1}");
                AssertIdentical(v, state["exp_avg_sq." + name], $"exp_avg_sq.{name} after step {step + 1}");
                Assert.Equal(count, state["step." + name].item<double>());
            }
            adam.ZeroGrad();
        }
        // bn's group has step counts apart from step 1 on, bias's from step 3 on: those groups stay per tensor.
        Assert.Equal([2, 2, 1, 1, 1], flatGroupsPerStep);
    }

    /// <summary>A ResNet-18 trained three steps (forward, backward, Nesterov SGD with decay on the backbone only), then
    /// the mean-teacher EMA: the flattened student and teacher against an untouched copy with the per-tensor loops.
    /// With <paramref name="channelsLast"/> both students' weights are NHWC-strided first, as a channels-last run has
    /// them (CudaSpeed.WeightsToChannelsLast): the flat buffers keep that layout, the student's and the re-homed
    /// teacher's, and give the same bits.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ResNetStepsAndMeanTeacherMatchThePerTensorLoopsBitForBit(bool channelsLast)
    {
        using var scope = NewDisposeScope();
        using var student = ModelFactory.Create("resnet18", 3, 5);
        using var twin = ModelFactory.Create("resnet18", 3, 5);
        using var teacher = ModelFactory.Create("resnet18", 5);
        using var teacherTwin = ModelFactory.Create("resnet18", 5);
        Copy(student, twin);
        Copy(teacher, teacherTwin);
        if (channelsLast)
            foreach (var model in new[] { student, twin }) CudaSpeed.WeightsToChannelsLast(model);
        foreach (var t in new[] { teacher, teacherTwin })
            foreach (var p in t.parameters()) p.requires_grad = false;
        student.train();
        twin.train();

        static IEnumerable<(string, Parameter, bool)> Named(ImageClassifier m) =>
            m.named_parameters().Select(p => (p.name, p.parameter, ParameterGroups.IsBackbone(p.name)));
        using var sgd = Optimizers.Create("sgd", Named(student), 0.05, 1e-3);
        using var loop = new PerTensorReference.Sgd(Named(twin).ToList(), Momentum, 1e-3, nesterov: true) { LearningRate = 0.05 };
        Assert.True(sgd.State.Count == 0);

        var rng = new Random(6);
        for (int step = 0; step < 3; step++)
        {
            using var stepScope = NewDisposeScope();
            var x = tensor(Enumerable.Range(0, 2 * 3 * 32 * 32).Select(_ => (float)rng.NextDouble()).ToArray(), [2, 3, 32, 32]);
            var y = tensor(new long[] { step % 3, (step + 1) % 3 });
            sgd.ZeroGrad();
            foreach (var p in twin.parameters()) p.grad = null;
            nn.functional.cross_entropy(student.call(x).Logits, y).backward();
            nn.functional.cross_entropy(twin.call(x).Logits, y).backward();
            sgd.Step();
            loop.Step();
            // The backbone as one buffer; the heads' group goes tensor by tensor, aux_fc having no gradient from this loss.
            Assert.Equal(1, ((FlatOptimizer)sgd).LastStepFlatGroups);
            AssertStatesIdentical(twin, student, $"student after step {step + 1}");
        }

        // 3x3 weights keep NHWC strides as views of the flat buffer; 1x1 ones have NCHW's, which are the same order.
        Assert.Equal(channelsLast, CudaSpeed.IsChannelsLast(Find(student, "layer1.0.conv1.weight")));
        Assert.False(CudaSpeed.IsChannelsLast(Find(student, "layer2.0.downsample.0.weight")));
        MeanTeacher.Update(teacher, student, 0.75);
        var averaged = teacher.named_parameters().Where(p => !p.name.StartsWith("fc.", StringComparison.Ordinal)).ToList();
        PerTensorReference.Ema(averaged.Select(p => (Find(teacherTwin, p.name), Find(twin, p.name))), 0.75);
        AssertStatesIdentical(teacherTwin, teacher, "teacher after the EMA");
        // The flat path re-homed the teacher's averaged parameters into one buffer, in the student's layout.
        Assert.Equal(Find(student, averaged[1].name).storage_offset(), averaged[1].parameter.storage_offset());
        Assert.Equal(0, Find(teacher, "fc.weight").storage_offset());
        Assert.Equal(channelsLast, CudaSpeed.IsChannelsLast(Find(teacher, "layer1.0.conv1.weight")));

        MeanTeacher.Update(teacher, student, 0.5);
        PerTensorReference.Ema(averaged.Select(p => (Find(teacherTwin, p.name), Find(twin, p.name))), 0.5);
        AssertStatesIdentical(teacherTwin, teacher, "teacher after a second EMA");
    }

    /// <summary>A resume: weights loaded into an already flattened model (StateDictLoader copies into the views) and the
    /// optimizer state saved in a safetensors file under today's names; the resumed run continues on the flat path and
    /// lands on the same bits as the straight one.</summary>
    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    public void ResumedFromAFileContinuesExactly(string optimizer)
    {
        using var scope = NewDisposeScope();
        var (straight, _) = TwinParameters(seed: 7);
        var rng = new Random(8);
        var grads = Enumerable.Range(0, 4).Select(_ => straight.Select(p => RandomLike(p.Param, rng)).ToArray()).ToArray();
        using var first = Optimizers.Create(optimizer, straight, 0.1, WeightDecay);
        for (int step = 0; step < 2; step++) Apply(first, straight, grads[step]);

        var path = Path.Combine(Path.GetTempPath(), $"smile-flat-{Guid.NewGuid():N}.safetensors");
        try
        {
            var saved = straight.ToDictionary(p => "model." + p.Name, p => (Tensor)p.Param);
            foreach (var (name, t) in first.State) saved["optimizer." + name] = t;
            SafetensorsFile.Write(path, saved);
            string[] expectedKeys = optimizer == "sgd"
                ? straight.Select(p => p.Name).ToArray()
                : straight.SelectMany(p => new[] { "exp_avg." + p.Name, "exp_avg_sq." + p.Name, "step." + p.Name }).ToArray();
            Assert.Equal(expectedKeys.Order(), first.State.Keys.Order());

            var (resumed, _) = TwinParameters(seed: 9); // other values, overwritten by the load
            using var second = Optimizers.Create(optimizer, resumed, 0.1, WeightDecay);
            var file = SafetensorsFile.Read(path);
            using (no_grad())
                foreach (var (name, param, _) in resumed) param.copy_(file["model." + name]);
            second.LoadState(Checkpoint.WithPrefix(file, "optimizer."));
            for (int step = 2; step < 4; step++)
            {
                Apply(first, straight, grads[step]);
                Apply(second, resumed, grads[step]);
                Assert.Equal(3, ((FlatOptimizer)second).LastStepFlatGroups);
            }
            AssertParametersIdentical(straight, resumed, "after the resumed steps");
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>A second optimizer over the same parameters re-homes them; the first then steps them one by one
    /// (its buffer no longer holds them) and still updates the parameters themselves.</summary>
    [Fact]
    public void AnOptimizerWhoseParametersWereReHomedStepsThemOneByOne()
    {
        using var scope = NewDisposeScope();
        var (flat, reference) = TwinParameters(seed: 10);
        using var first = new NesterovSgd(flat, 0.1, Momentum, WeightDecay);
        using var loop = new PerTensorReference.Sgd(reference, Momentum, WeightDecay, nesterov: true) { LearningRate = 0.1 };
        using var second = new NesterovSgd(flat, 0.1, Momentum, WeightDecay);
        var rng = new Random(11);
        for (int step = 0; step < 2; step++)
        {
            SetGradients(flat, reference, rng, missing: null);
            first.Step();
            loop.Step();
            Assert.Equal(0, first.LastStepFlatGroups);
            AssertParametersIdentical(reference, flat, $"step {step + 1}");
        }
    }

    /// <summary>The chunks of a flat update tile the group's buffer, padding included, in runs of whole slots no longer
    /// than the limit unless one slot alone is.</summary>
    [Theory]
    [InlineData(SmallChunk, new[] { 0, 1, 2, 3 })]
    [InlineData(300L, new[] { 0, 3 })]
    [InlineData(DefaultChunk, new[] { 0, 3 })]
    public void ChunksTileTheBufferInRunsOfWholeSlots(long limit, int[] firstSlots)
    {
        using var scope = NewDisposeScope();
        var (flat, _) = TwinParameters(seed: 12);
        var decayed = flat.Where(p => p.Decay && p.Param.dtype == ScalarType.Float32).ToList(); // conv, fc, bias
        using var layout = FlatLayout.Flatten(decayed);
        var group = Assert.Single(layout.Groups);
        var chunks = group.Chunks(limit);
        Assert.Equal(firstSlots[..^1], chunks.Select(c => c.From));
        Assert.Equal(firstSlots[1..], chunks.Select(c => c.To));
        Assert.Equal(0, chunks[0].Start);
        for (int i = 1; i < chunks.Count; i++) Assert.Equal(chunks[i - 1].Start + chunks[i - 1].Length, chunks[i].Start);
        Assert.Equal(group.Values.numel(), chunks[^1].Start + chunks[^1].Length);
        Assert.All(chunks, c => Assert.True(c.Length <= limit || c.To - c.From == 1, $"chunk [{c.From}, {c.To}) spans {c.Length} elements"));
    }

    [Fact]
    public void OneTensorUnderTwoNamesIsRejected()
    {
        using var scope = NewDisposeScope();
        var p = new Parameter(zeros(3));
        var error = Assert.Throws<ArgumentException>(() => new Adam([("a", p, true), ("b", p, false)], 0.1));
        Assert.Contains("'a' and 'b' are the same tensor", error.Message);
    }

    /// <summary>Two lists of parameters with the same names, flags and values (from System.Random).</summary>
    private static (List<(string Name, Parameter Param, bool Decay)> Flat, List<(string Name, Parameter Param, bool Decay)> Reference) TwinParameters(int seed)
    {
        var rng = new Random(seed);
        var flat = new List<(string, Parameter, bool)>();
        var reference = new List<(string, Parameter, bool)>();
        foreach (var (name, shape, dtype, decay) in Specs)
        {
            var values = RandomTensor(shape, dtype, rng);
            flat.Add((name, new Parameter(values.clone()), decay));
            reference.Add((name, new Parameter(values.clone()), decay));
        }
        return (flat, reference);
    }

    private static void SetGradients(List<(string Name, Parameter Param, bool Decay)> flat, List<(string Name, Parameter Param, bool Decay)> reference,
        Random rng, string? missing)
    {
        for (int i = 0; i < flat.Count; i++)
        {
            var grad = RandomLike(flat[i].Param, rng);
            flat[i].Param.grad = flat[i].Name == missing ? null : grad.clone();
            reference[i].Param.grad = flat[i].Name == missing ? null : grad.clone();
        }
    }

    private static void Apply(IOptimizer optimizer, List<(string Name, Parameter Param, bool Decay)> parameters, Tensor[] grads)
    {
        optimizer.ZeroGrad();
        for (int i = 0; i < parameters.Count; i++) parameters[i].Param.grad = grads[i].clone();
        optimizer.Step();
    }

    private static Tensor RandomLike(Tensor like, Random rng) => RandomTensor(like.shape, like.dtype, rng);

    private static Tensor RandomTensor(long[] shape, ScalarType dtype, Random rng)
    {
        long n = shape.Aggregate(1L, (a, b) => a * b);
        return tensor(Enumerable.Range(0, (int)n).Select(_ => rng.NextDouble() * 2 - 1).ToArray(), shape).to_type(dtype);
    }

    private static void Copy(ImageClassifier from, ImageClassifier to)
    {
        using var noGrad = no_grad();
        var target = to.state_dict();
        foreach (var (name, value) in from.state_dict()) target[name].copy_(value);
    }

    private static Parameter Find(ImageClassifier model, string name) => model.named_parameters().Single(p => p.name == name).parameter;

    private static void AssertParametersIdentical(List<(string Name, Parameter Param, bool Decay)> expected, List<(string Name, Parameter Param, bool Decay)> actual, string when)
    {
        for (int i = 0; i < expected.Count; i++) AssertIdentical(expected[i].Param, actual[i].Param, $"{expected[i].Name} after {when}");
    }

    private static void AssertStatesIdentical(ImageClassifier expected, ImageClassifier actual, string when)
    {
        var actualState = actual.state_dict();
        foreach (var (name, value) in expected.state_dict()) AssertIdentical(value, actualState[name], $"{name}, {when}");
    }

    /// <summary>Same shape, dtype and bytes (not merely equal values: -0 and 0 differ here).</summary>
    private static void AssertIdentical(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(expected.dtype, actual.dtype);
        using var e = expected.detach().contiguous().clone();
        using var a = actual.detach().contiguous().clone();
        Assert.True(e.bytes.SequenceEqual(a.bytes), $"{what}: the bytes differ (max |difference| {(e.to_type(ScalarType.Float64) - a.to_type(ScalarType.Float64)).abs().max().item<double>():E3})");
    }
}

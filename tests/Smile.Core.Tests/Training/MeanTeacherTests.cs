using Smile.Models;
using Smile.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

public sealed class MeanTeacherTests
{
    [Fact]
    public void AveragesBackboneParametersOnlyAndLeavesFcAndBuffersAlone()
    {
        using var scope = NewDisposeScope();
        torch.random.manual_seed(3);
        using var teacher = ModelFactory.Create("resnet18", 7);
        using var student = ModelFactory.Create("resnet18", 3, 7);
        // Every student value differs from the teacher's (BatchNorm weights start at 1 in both), and the student
        // has BatchNorm statistics of its own, so that an average of anything would show.
        using (no_grad())
        {
            foreach (var p in student.parameters()) p.AddInPlace(randn_like(p).Times(0.1));
            student.train();
            student.call(randn(2, 3, 32, 32));
        }

        var teacherBefore = Clone(teacher.state_dict());
        var studentState = Clone(student.state_dict());
        const double decay = 0.75;
        MeanTeacher.Update(teacher, student, decay);

        var parameterNames = teacher.named_parameters().Select(p => p.name).ToHashSet();
        foreach (var (name, after) in teacher.state_dict())
        {
            var before = teacherBefore[name];
            if (parameterNames.Contains(name) && !name.StartsWith("fc.", StringComparison.Ordinal))
            {
                var expected = before.to_type(ScalarType.Float64).Times(decay).Plus(studentState[name].to_type(ScalarType.Float64).Times(1 - decay));
                double diff = (after.to_type(ScalarType.Float64) - expected).abs().max().item<double>();
                Assert.True(diff < 1e-6, $"{name}: max |difference| {diff:E2} from decay * teacher + (1 - decay) * student");
                Assert.False(after.equal(before).all().item<bool>(), $"{name} did not move");
            }
            else
            {
                Assert.True(after.equal(before).all().item<bool>(), $"{name} (fc or buffer) changed");
            }
        }
    }

    [Fact]
    public void AMissingOrMisshapenStudentParameterThrowsBeforeAnythingChanges()
    {
        using var scope = NewDisposeScope();
        // resnet34 has blocks (layer1.2, ...) that resnet18 lacks; resnet50's blocks have other shapes.
        using var teacher = ModelFactory.Create("resnet34", 10);
        using var shallower = ModelFactory.Create("resnet18", 10);
        using var bottleneck = ModelFactory.Create("resnet50", 10);
        var before = Clone(teacher.state_dict());
        var missing = Assert.Throws<InvalidOperationException>(() => MeanTeacher.Update(teacher, shallower, 0.9));
        Assert.Contains("has no parameter 'layer1.2.", missing.Message);
        var misshapen = Assert.Throws<InvalidOperationException>(() => MeanTeacher.Update(teacher, bottleneck, 0.9));
        Assert.Contains("in the teacher", misshapen.Message);
        foreach (var (name, tensor) in teacher.state_dict())
            Assert.True(tensor.equal(before[name]).all().item<bool>(), $"{name} changed");
    }

    private static Dictionary<string, Tensor> Clone(Dictionary<string, Tensor> state) =>
        state.ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
}

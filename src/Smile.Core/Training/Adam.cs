using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// Adam (Kingma and Ba 2015) as torch.optim.Adam computes it (coupled L2 weight decay, per-parameter step
/// counts, bias correction):
/// <code>
///   g = grad + wd * p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  t += 1
///   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
/// </code>
/// Written out, like <see cref="MomentumSgd"/>, so that weight decay is per parameter and the state saves and
/// restores by parameter name (exp_avg.NAME, exp_avg_sq.NAME, step.NAME). The moments are views of two flat
/// buffers per parameter group (<see cref="FlatOptimizer"/>); a group whose step counts differ goes parameter by parameter.
/// </summary>
public sealed class Adam : FlatOptimizer
{
    /// <summary>A group's moments, laid out like its parameters (zero where a parameter has not stepped), and step counts.</summary>
    private sealed class GroupState(FlatGroup group)
    {
        public Tensor M { get; } = zeros_like(group.Values).DetachFromDisposeScope();
        public Tensor V { get; } = zeros_like(group.Values).DetachFromDisposeScope();
        public long[] Steps { get; } = new long[group.Slots.Count];
        /// <summary>Each parameter's views of M and V and its step count as a 0-dim float64 tensor (so the whole state
        /// fits a checkpoint's tensors; set when read), made when first asked for.</summary>
        public (Tensor M, Tensor V, Tensor Step)?[] Views { get; } = new (Tensor, Tensor, Tensor)?[group.Slots.Count];
    }

    private readonly GroupState[] states;
    private readonly double beta1, beta2, eps, weightDecay;

    public Adam(IEnumerable<(string Name, Parameter Param, bool Decay)> parameters, double lr, double weightDecay = 0,
        double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, Func<string, double>? lrScaleOf = null)
        : base(parameters, lr, lrScaleOf)
    {
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "weight decay must be 0 or more");
        (this.beta1, this.beta2, this.eps, this.weightDecay) = (beta1, beta2, eps, weightDecay);
        states = Groups.Select(g => new GroupState(g)).ToArray();
    }

    public override IReadOnlyDictionary<string, Tensor> State
    {
        get
        {
            ThrowIfDisposed();
            var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var slot in Slots)
            {
                long step = states[slot.Group.Index].Steps[slot.Index];
                if (step == 0) continue;
                var (m, v, stepTensor) = Views(slot);
                state["exp_avg." + slot.Name] = m;
                state["exp_avg_sq." + slot.Name] = v;
                using (Scalar count = (double)step) stepTensor.fill_(count);
                state["step." + slot.Name] = stepTensor;
            }
            return state;
        }
    }

    public override void LoadState(IReadOnlyDictionary<string, Tensor> saved)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(saved);
        var names = saved.Keys.Where(k => k.StartsWith("step.", StringComparison.Ordinal)).Select(k => k["step.".Length..]).ToList();
        var problems = new List<string>();
        foreach (var key in saved.Keys)
            if (!(key.StartsWith("exp_avg.", StringComparison.Ordinal) || key.StartsWith("exp_avg_sq.", StringComparison.Ordinal) || key.StartsWith("step.", StringComparison.Ordinal)))
                problems.Add($"'{key}' is not Adam state (a checkpoint of another optimizer?)");
        foreach (var name in names)
        {
            if (!TryGetSlot(name, out var slot)) { problems.Add($"'{name}' is not an optimized parameter"); continue; }
            foreach (var key in new[] { "exp_avg." + name, "exp_avg_sq." + name })
                if (!saved.TryGetValue(key, out var t)) problems.Add($"'{key}' is missing");
                else if (!t.shape.SequenceEqual(slot.Shape)) problems.Add($"'{key}' has shape {ShapeText(t.shape)}, the parameter {ShapeText(slot.Shape)}");
        }
        if (problems.Count > 0) throw new ArgumentException($"Adam state does not match the parameters: {string.Join("; ", problems)}");

        using var noGrad = no_grad();
        foreach (var state in states)
        {
            state.M.zero_();
            state.V.zero_();
            Array.Clear(state.Steps);
        }
        using var scope = NewDisposeScope();
        foreach (var name in names)
        {
            TryGetSlot(name, out var slot);
            var (m, v, _) = Views(slot);
            m.copy_(saved["exp_avg." + name]); // copy_ converts dtype and device
            v.copy_(saved["exp_avg_sq." + name]);
            states[slot.Group.Index].Steps[slot.Index] = (long)saved["step." + name].to_type(ScalarType.Float64).item<double>();
        }
    }

    private protected override void ResetOne(FlatSlot slot)
    {
        var (m, v, _) = Views(slot);
        m.zero_();
        v.zero_();
        states[slot.Group.Index].Steps[slot.Index] = 0;
    }

    private protected override bool StateIsUniform(FlatGroup group)
    {
        var steps = states[group.Index].Steps;
        return steps.All(s => s == steps[0]);
    }

    private protected override void BeginFlatStep(FlatGroup group)
    {
        var steps = states[group.Index].Steps;
        Array.Fill(steps, steps[0] + 1);
    }

    private protected override void StepFlat(FlatGroup group, FlatChunk chunk, Tensor grad)
    {
        var state = states[group.Index];
        var p = chunk.Of(group.Values);
        if (group.Decay && weightDecay != 0)
        {
            using Scalar wd = weightDecay;
            grad.add_(p, wd);
        }
        Update(p, grad, chunk.Of(state.M), chunk.Of(state.V), state.Steps[0], RateOf(group));
    }

    private protected override void StepOne(FlatSlot slot, Tensor grad)
    {
        var param = slot.Param;
        using Scalar wd = weightDecay;
        var g = slot.Decay && weightDecay != 0 ? grad.add(param, wd) : grad;
        var steps = states[slot.Group.Index].Steps;
        long step = ++steps[slot.Index];
        var (m, v, _) = Views(slot);
        Update(param, g, m, v, step, RateOf(slot.Group));
    }

    private void Update(Tensor param, Tensor g, Tensor m, Tensor v, long step, double lr)
    {
        using Scalar b1 = beta1, b2 = beta2, keep1 = 1 - beta1, keep2 = 1 - beta2, epsilon = eps;
        m.mul_(b1).add_(g, keep1);
        v.mul_(b2).addcmul_(g, g, keep2);
        double correction1 = 1 - Math.Pow(beta1, step), correction2 = 1 - Math.Pow(beta2, step);
        using Scalar rootCorrection2 = Math.Sqrt(correction2), stepSize = -lr / correction1;
        var denom = v.sqrt().div_(rootCorrection2).add_(epsilon, TensorArithmetic.One);
        param.addcdiv_(m, denom, stepSize);
    }

    private (Tensor M, Tensor V, Tensor Step) Views(FlatSlot slot)
    {
        var state = states[slot.Group.Index];
        return state.Views[slot.Index] ??= (
            slot.ViewOf(state.M).DetachFromDisposeScope(),
            slot.ViewOf(state.V).DetachFromDisposeScope(),
            tensor(0.0, device: CPU).DetachFromDisposeScope()); // a host scalar for checkpoints, as torch.optim keeps its step
    }

    private protected override void DisposeState()
    {
        foreach (var state in states)
        {
            foreach (var views in state.Views)
                if (views is var (m, v, step)) { m.Dispose(); v.Dispose(); step.Dispose(); }
            state.M.Dispose();
            state.V.Dispose();
        }
    }
}

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
/// Written out, like <see cref="NesterovSgd"/>, so that weight decay is per parameter and the state saves and
/// restores by parameter name (exp_avg.NAME, exp_avg_sq.NAME, step.NAME).
/// </summary>
public sealed class Adam : IOptimizer
{
    private sealed record Entry(string Name, Parameter Param, bool Decay);
    private sealed class Moments(Tensor m, Tensor v, long step)
    {
        public Tensor M { get; } = m;
        public Tensor V { get; } = v;
        public long Step { get; set; } = step;
        /// <summary>The step count as a 0-dim float64 tensor, so the whole state fits a checkpoint's tensors; set when read.</summary>
        public Tensor StepTensor { get; } = tensor((double)step).DetachFromDisposeScope();

        public void Dispose() { M.Dispose(); V.Dispose(); StepTensor.Dispose(); }
    }

    private readonly List<Entry> entries;
    private readonly Dictionary<string, Moments> moments = new(StringComparer.Ordinal);
    private readonly double beta1, beta2, eps, weightDecay;
    private bool disposed;

    public Adam(IEnumerable<(string Name, Parameter Param, bool Decay)> parameters, double lr, double weightDecay = 0,
        double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "weight decay must be 0 or more");
        entries = parameters.Select(p => new Entry(p.Name, p.Param, p.Decay)).ToList();
        var duplicate = entries.GroupBy(e => e.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"parameter '{duplicate.Key}' is listed twice");
        LearningRate = lr;
        (this.beta1, this.beta2, this.eps, this.weightDecay) = (beta1, beta2, eps, weightDecay);
    }

    public double LearningRate
    {
        get;
        set => field = value >= 0 && double.IsFinite(value)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "the learning rate must be finite and 0 or more");
    }

    public void Step()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        foreach (var (name, param, decay) in entries)
        {
            var grad = param.grad;
            if (grad is null) continue;
            var g = decay && weightDecay != 0 ? grad.add(param, weightDecay) : grad;
            if (!moments.TryGetValue(name, out var state))
                moments[name] = state = new Moments(zeros_like(param).DetachFromDisposeScope(), zeros_like(param).DetachFromDisposeScope(), 0);
            state.Step++;
            state.M.mul_(beta1).add_(g, 1 - beta1);
            state.V.mul_(beta2).addcmul_(g, g, 1 - beta2);
            double correction1 = 1 - Math.Pow(beta1, state.Step), correction2 = 1 - Math.Pow(beta2, state.Step);
            var denom = state.V.sqrt().div_(Math.Sqrt(correction2)).add_(eps);
            param.addcdiv_(state.M, denom, -LearningRate / correction1);
        }
    }

    public void ZeroGrad()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        foreach (var entry in entries)
        {
            using var grad = entry.Param.grad;
            if (grad is not null) entry.Param.grad = null;
        }
    }

    public IReadOnlyDictionary<string, Tensor> State
    {
        get
        {
            var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (name, m) in moments)
            {
                state["exp_avg." + name] = m.M;
                state["exp_avg_sq." + name] = m.V;
                m.StepTensor.fill_((double)m.Step);
                state["step." + name] = m.StepTensor;
            }
            return state;
        }
    }

    public void LoadState(IReadOnlyDictionary<string, Tensor> saved)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentNullException.ThrowIfNull(saved);
        var byName = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
        var names = saved.Keys.Where(k => k.StartsWith("step.", StringComparison.Ordinal)).Select(k => k["step.".Length..]).ToList();
        var problems = new List<string>();
        foreach (var key in saved.Keys)
            if (!(key.StartsWith("exp_avg.", StringComparison.Ordinal) || key.StartsWith("exp_avg_sq.", StringComparison.Ordinal) || key.StartsWith("step.", StringComparison.Ordinal)))
                problems.Add($"'{key}' is not Adam state (a checkpoint of another optimizer?)");
        foreach (var name in names)
        {
            if (!byName.TryGetValue(name, out var entry)) { problems.Add($"'{name}' is not an optimized parameter"); continue; }
            foreach (var key in new[] { "exp_avg." + name, "exp_avg_sq." + name })
                if (!saved.TryGetValue(key, out var t)) problems.Add($"'{key}' is missing");
                else if (!t.shape.SequenceEqual(entry.Param.shape)) problems.Add($"'{key}' has shape [{string.Join(", ", t.shape)}], the parameter [{string.Join(", ", entry.Param.shape)}]");
        }
        if (problems.Count > 0) throw new ArgumentException($"Adam state does not match the parameters: {string.Join("; ", problems)}");

        ClearMoments();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        foreach (var name in names)
        {
            var p = byName[name].Param;
            moments[name] = new Moments(
                saved["exp_avg." + name].detach().to(p.dtype, p.device, copy: true).DetachFromDisposeScope(),
                saved["exp_avg_sq." + name].detach().to(p.dtype, p.device, copy: true).DetachFromDisposeScope(),
                (long)saved["step." + name].to_type(ScalarType.Float64).item<double>());
        }
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        ClearMoments();
    }

    private void ClearMoments()
    {
        foreach (var m in moments.Values) m.Dispose();
        moments.Clear();
    }
}

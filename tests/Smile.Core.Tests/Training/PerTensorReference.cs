using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smile.Tests.Training;

/// <summary>
/// The optimizers and the EMA as they were before the flat buffers: a loop over the parameters with per-tensor kernels,
/// each parameter's state in a tensor of its own. FlatOptimizerTests compares the flat ones against these, bit for bit.
/// </summary>
internal static class PerTensorReference
{
    /// <summary>torch.optim.SGD's single-tensor loop (Nesterov or plain momentum, coupled weight decay).</summary>
    public sealed class Sgd(IReadOnlyList<(string Name, Parameter Param, bool Decay)> parameters, double momentum, double weightDecay, bool nesterov) : IDisposable
    {
        public Dictionary<string, Tensor> Buffers { get; } = new(StringComparer.Ordinal);
        public double LearningRate { get; set; }

        public void Step()
        {
            using var noGrad = no_grad();
            using Scalar decayScalar = weightDecay, momentumScalar = momentum, minusLr = -LearningRate;
            foreach (var (name, param, decay) in parameters)
            {
                using var scope = NewDisposeScope();
                var grad = param.grad;
                if (grad is null) continue;
                var g = decay && weightDecay != 0 ? grad.add(param, decayScalar) : grad;
                if (momentum != 0)
                {
                    if (Buffers.TryGetValue(name, out var buf)) buf.mul_(momentumScalar).AddInPlace(g);
                    else Buffers[name] = buf = g.clone().DetachFromDisposeScope();
                    g = nesterov ? g.add(buf, momentumScalar) : buf;
                }
                param.add_(g, minusLr);
            }
        }

        public void Dispose()
        {
            foreach (var b in Buffers.Values) b.Dispose();
        }
    }

    /// <summary>torch.optim.Adam's single-tensor loop (coupled weight decay, per-parameter step counts).</summary>
    public sealed class Adam(IReadOnlyList<(string Name, Parameter Param, bool Decay)> parameters, double weightDecay, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8) : IDisposable
    {
        public Dictionary<string, (Tensor M, Tensor V, long Step)> Moments { get; } = new(StringComparer.Ordinal);
        public double LearningRate { get; set; }

        public void Step()
        {
            using var noGrad = no_grad();
            using Scalar decayScalar = weightDecay, beta1Scalar = beta1, beta2Scalar = beta2, oneMinusBeta1 = 1 - beta1, oneMinusBeta2 = 1 - beta2, epsilon = eps;
            foreach (var (name, param, decay) in parameters)
            {
                using var scope = NewDisposeScope();
                var grad = param.grad;
                if (grad is null) continue;
                var g = decay && weightDecay != 0 ? grad.add(param, decayScalar) : grad;
                if (!Moments.TryGetValue(name, out var state))
                    state = (zeros_like(param).DetachFromDisposeScope(), zeros_like(param).DetachFromDisposeScope(), 0);
                state.Step++;
                Moments[name] = state;
                state.M.mul_(beta1Scalar).add_(g, oneMinusBeta1);
                state.V.mul_(beta2Scalar).addcmul_(g, g, oneMinusBeta2);
                double correction1 = 1 - Math.Pow(beta1, state.Step), correction2 = 1 - Math.Pow(beta2, state.Step);
                using Scalar rootCorrection2 = Math.Sqrt(correction2), stepSize = -LearningRate / correction1;
                var denom = state.V.sqrt().div_(rootCorrection2).add_(epsilon, TensorArithmetic.One);
                param.addcdiv_(state.M, denom, stepSize);
            }
        }

        public void Dispose()
        {
            foreach (var (m, v, _) in Moments.Values) { m.Dispose(); v.Dispose(); }
        }
    }

    /// <summary>teacher = decay * teacher + (1 - decay) * student, tensor by tensor, for the named teacher parameters.</summary>
    public static void Ema(IEnumerable<(Parameter Teacher, Parameter Student)> pairs, double decay)
    {
        using var noGrad = no_grad();
        using Scalar keep = decay, take = 1.0 - decay;
        foreach (var (t, s) in pairs) t.mul_(keep).add_(s, take);
    }
}

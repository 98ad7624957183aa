using Smile.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Smile.Training;

/// <summary>
/// Co-Tuning (You et al. 2020, "Co-Tuning for Transfer Learning"), as docs/METHODS.md, "Co-Tuning", states it: the
/// source head (aux_fc, initialised from the pre-trained file's classifier) is trained beside the new head on the same
/// pooled features, its softmax pulled towards the category relationship P(y_s | y_t) of each image's label:
/// "main" = CE(fc(f), y) and "cotuning" = cotuning_lambda * mean_i -Σ_s R[y_i, s] log softmax(aux_fc(f_i))_s, with
/// R the K x S relationship. Only fc is evaluated.
/// <para>
/// R is computed once, before the first step's loss (so before any update), from the frozen pre-trained network in
/// eval mode on the training images with the evaluation transform (no augmentation): <b>direct</b> (the default,
/// TLlib's): R[c] = the mean of the source softmax over the images of class c, without a calibration scale;
/// <b>reverse</b> (the original code's): calibrated source probabilities π = softmax(0.8840456604957581 z), a
/// multinomial logistic regression π → y_t without intercept (L2 strength C chosen from 1e4 … 1e-4 by accuracy on
/// a held-out fifth of each class), its logits calibrated by one scale s on that fifth, then Bayes with the source
/// marginal: R[c, s'] ∝ softmax_c(s W)[s', c] · mean(π)[s']. A resumed run computes R again from the same frozen
/// network, so it trains against the same R.
/// </para>
/// </summary>
public sealed class CoTuningRegularizer : IRegularizer
{
    /// <summary>The original code's temperature of torchvision's ResNet-50 on ImageNet, used by the reverse estimate.</summary>
    public const double ReverseCalibration = 0.8840456604957581;

    /// <summary>The original code's grid of inverse L2 strengths, tried from the weakest regularisation down.</summary>
    public static readonly double[] ReverseCs = [1e4, 3e3, 1e3, 3e2, 1e2, 3e1, 1e1, 3.0, 1.0, 3e-1, 1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4];

    private static readonly MethodSetting<double> LambdaSetting = new("cotuning_lambda",
        "Co-Tuning: weight of the source head's CE against the category relationship (2.3, the paper's).", 2.3,
        MethodSetting<double>.NonNegative) { OnlyForItsMethods = true };

    private static readonly MethodSetting<string?> RelationshipSetting = new("cotuning_relationship",
        "Co-Tuning: how P(y_s | y_t) is estimated: direct (class means of the source softmax, TLlib's) or reverse (the original's calibrated logistic regression and Bayes).",
        "direct", v => v is "direct" or "reverse" ? null : "must be direct or reverse") { OnlyForItsMethods = true };

    /// <summary>Images per forward of the relationship pass (eval mode, no graph: memory is the activations only).</summary>
    private const int RelationshipBatch = 32;

    private MethodSetup? setup;
    private Tensor? relationship;

    public string Name => "cotuning";
    public string Summary => "Co-Tuning: CE on the new head plus cotuning_lambda * CE of the trained source head against the category relationship P(y_s | y_t).";
    public IReadOnlyList<MethodSetting> Settings => [LambdaSetting, RelationshipSetting];

    /// <summary>The frozen pre-trained network is what the relationship is estimated from.</summary>
    public bool NeedsTeacher => true;

    public double Lambda { get; private set; } = LambdaSetting.Default;

    /// <summary>"direct" or "reverse".</summary>
    public string Estimate { get; private set; } = RelationshipSetting.Default!;

    /// <summary>The K x S relationship the loss uses (null until the first step or <see cref="UseRelationship"/>).</summary>
    public Tensor? Relationship => relationship;

    public void Configure(MethodValues values)
    {
        ArgumentNullException.ThrowIfNull(values);
        Lambda = values.Get(LambdaSetting);
        Estimate = values.Get(RelationshipSetting) ?? RelationshipSetting.Default!;
    }

    /// <summary>Keeps the training set and device; the relationship needs the frozen network, which the first step brings.</summary>
    public void Prepare(MethodSetup setup) => this.setup = setup ?? throw new ArgumentNullException(nameof(setup));

    /// <summary>Sets the relationship (K x S) instead of estimating it: tests, or a caller with its own estimate.</summary>
    public void UseRelationship(Tensor value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.dim() != 2) throw new ArgumentException($"expected a K x S relationship, got shape [{string.Join(", ", value.shape)}]");
        relationship?.Dispose();
        relationship = value.detach().to(ScalarType.Float32).clone().DetachFromDisposeScope();
    }

    public void BeforeStep(TrainingContext ctx, IOptimizer optimizer, long iteration)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        if (relationship is not null) return;
        var s = setup ?? throw new InvalidOperationException("the cotuning method has no training set to estimate its relationship from (call Prepare)");
        s.Log.Information("Co-Tuning: estimating the category relationship P(y_s | y_t) ({Estimate}) from the pre-trained network on {Images} un-augmented training images",
            Estimate, s.Train.Samples.Count);
        using var scope = NewDisposeScope();
        var (logits, labels) = SourceLogits(ctx, s);
        var estimate = Estimate == "reverse"
            ? ReverseRelationship(logits, labels, s.Train.Classes.Count, s.Log)
            : DirectRelationship(logits, labels, s.Train.Classes.Count);
        relationship = estimate.to(ScalarType.Float32).to(ctx.Device).DetachFromDisposeScope();
        s.Log.Information("Co-Tuning: relationship of {Classes} target x {Source} source classes ready", relationship.shape[0], relationship.shape[1]);
    }

    public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(batch);
        var r = relationship ?? throw new InvalidOperationException("the cotuning method's relationship is not estimated yet (BeforeStep runs first)");
        using var scope = NewDisposeScope();
        var student = ctx.Student.call(batch.Images);
        var sourceHead = student.AuxLogits
            ?? throw new InvalidOperationException("the cotuning method needs a student with the source head (aux_fc): give the pre-trained weights");
        if (sourceHead.shape[1] != r.shape[1] || student.Logits.shape[1] != r.shape[0])
            throw new InvalidOperationException($"the relationship is {r.shape[0]} x {r.shape[1]} but the heads have {student.Logits.shape[1]} and {sourceHead.shape[1]} outputs");
        var targets = r.index_select(0, batch.Labels);
        var terms = new List<(string, Tensor)>
        {
            ("main", LossTerms.CrossEntropy(ctx, student.Logits, batch.Labels)),
            ("cotuning", LossTerms.SoftCrossEntropy(sourceHead, targets).Times(Lambda)),
            ("cls", LossTerms.ClassifierL2(ctx).Times(ctx.Options.ClsLambda)),
        };
        L2SpTerm.AddIfEnabled(ctx, terms);
        return LossTerms.Finish(terms, LossTerms.Accuracy(student.Logits, batch.Labels));
    }

    /// <summary>The pre-trained network's logits (N x S, fp32) and the labels (N) of every readable training image, in
    /// folder order, with the evaluation transform; on the run's device.</summary>
    private static (Tensor Logits, Tensor Labels) SourceLogits(TrainingContext ctx, MethodSetup s)
    {
        var loader = new BatchLoader(s.Train, TransformSpec.ForEvaluation(s.ImageSize),
            new LoaderOptions(RelationshipBatch, Seed: s.Seed, Shuffle: false, DropLast: false), s.Log);
        var logits = new List<Tensor>();
        var labels = new List<Tensor>();
        int done = 0, next = 0;
        foreach (var batch in loader.Batches())
        {
            using (batch)
            {
                if (batch.Count == 0) continue;
                logits.Add(ctx.TeacherForward(batch.Images.to(s.Device)).Logits.to(ScalarType.Float32));
                labels.Add(batch.Labels.to(s.Device));
                done += batch.Count;
            }
            if (done >= next)
            {
                s.Log.Information("Co-Tuning: source outputs of {Done}/{Total} training images", done, s.Train.Samples.Count);
                next = done + Math.Max(1000, s.Train.Samples.Count / 10);
            }
        }
        if (logits.Count == 0) throw new DataException($"{s.Train.Root}: no readable training image for the Co-Tuning relationship");
        return (cat(logits, 0), cat(labels, 0));
    }

    /// <summary>TLlib's direct estimate: row c = the mean over the images of class c of softmax(<paramref name="logits"/>);
    /// a class without images gets a row of zeros (its CE term is then 0; no batch holds it anyway).</summary>
    public static Tensor DirectRelationship(Tensor logits, Tensor labels, int classes)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        using var scope = NewDisposeScope();
        var p = logits.to(ScalarType.Float64).softmax(1);
        var members = nn.functional.one_hot(labels, classes).to(ScalarType.Float64).t(); // K x N
        var counts = members.sum(1, keepdim: true).clamp_min(TensorArithmetic.One);
        return (matmul(members, p) / counts).MoveToOuterDisposeScope();
    }

    /// <summary>Which images the reverse estimate holds out: within each class, in folder order, every fifth image
    /// (positions 4, 9, ...), and the last image of a class of 2 to 4 images, so that every class with two or more
    /// images is represented on both sides.</summary>
    public static bool[] HeldOut(IReadOnlyList<long> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var count = labels.GroupBy(l => l).ToDictionary(g => g.Key, g => g.Count());
        var seen = new Dictionary<long, int>();
        var held = new bool[labels.Count];
        for (int i = 0; i < labels.Count; i++)
        {
            int position = seen[labels[i]] = seen.GetValueOrDefault(labels[i]) + 1;
            int n = count[labels[i]];
            held[i] = position % 5 == 0 || (n is >= 2 and < 5 && position == n);
        }
        return held;
    }

    /// <summary>The original code's reverse estimate (see the class comment), in float64; the logistic regressions
    /// and the calibration are solved to convergence. <paramref name="log"/> hears the chosen C and scale.</summary>
    public static Tensor ReverseRelationship(Tensor logits, Tensor labels, int classes, Serilog.ILogger? log = null)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        using var scope = NewDisposeScope();
        var device = logits.device;
        var pi = logits.to(ScalarType.Float64).Times(ReverseCalibration).softmax(1);
        var held = HeldOut(labels.cpu().data<long>().ToArray());
        if (!held.Any(h => h) || held.All(h => h))
            throw new MethodSettingException("cotuning_relationship", "reverse needs a class with at least two training images (one is held out to choose the regression's strength); use direct");
        var heldIndex = tensor(Enumerable.Range(0, held.Length).Where(i => held[i]).Select(i => (long)i).ToArray(), device: device);
        var fitIndex = tensor(Enumerable.Range(0, held.Length).Where(i => !held[i]).Select(i => (long)i).ToArray(), device: device);
        var (fitX, fitY) = (pi.index_select(0, fitIndex), labels.index_select(0, fitIndex));
        var (valX, valY) = (pi.index_select(0, heldIndex), labels.index_select(0, heldIndex));

        Tensor? best = null;
        double bestAccuracy = -1, bestC = 0;
        foreach (var c in ReverseCs)
        {
            var w = FitLogisticRegression(fitX, fitY, classes, c);
            double accuracy = matmul(valX, w.t()).argmax(1).eq(valY).to(ScalarType.Float64).mean().item<double>();
            if (accuracy > bestAccuracy) (best, bestAccuracy, bestC) = (w, accuracy, c); // the first best, as numpy's argmax
        }
        var weights = best!;
        double scale = CalibrationScale(matmul(valX, weights.t()), valY);
        log?.Information("Co-Tuning: reverse estimate with C {C} (held-out accuracy {Accuracy:F4}), calibration scale {Scale:F4}", bestC, bestAccuracy, scale);

        var targetGivenSource = weights.t().Times(scale).softmax(1);            // S x K
        var joint = targetGivenSource * pi.mean([0]).unsqueeze(1);              // S x K
        var sourceGivenTarget = joint.t();                                      // K x S
        return (sourceGivenTarget / sourceGivenTarget.sum(1, keepdim: true)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Multinomial logistic regression without intercept, sklearn's objective divided by C·N:
    /// mean_i CE(W x_i, y_i) + ||W||² / (2 C N), strictly convex, minimised by L-BFGS (10 pairs) with backtracking
    /// until the largest gradient entry is below 1e-9 (or 2000 iterations). Returns W (K x D), float64.
    /// </summary>
    public static Tensor FitLogisticRegression(Tensor x, Tensor y, int classes, double c)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0];
        double decay = 1.0 / (c * n);
        var onehot = nn.functional.one_hot(y, classes).to(ScalarType.Float64);
        (double Value, Tensor Gradient) Objective(Tensor w)
        {
            var z = matmul(x, w.t());
            var value = (z.logsumexp(1) - (z * onehot).sum(1)).mean().Plus(w.Squared().sum().Times(decay / 2));
            var gradient = matmul((z.softmax(1) - onehot).t(), x).DividedBy(n).Plus(w.Times(decay));
            return (value.item<double>(), gradient);
        }
        var weights = zeros([classes, x.shape[1]], ScalarType.Float64, x.device);
        return MinimiseLbfgs(Objective, weights).MoveToOuterDisposeScope();
    }

    /// <summary>The scale s minimising the mean CE of s · <paramref name="logits"/> against <paramref name="labels"/>
    /// (the original code's calibration). The CE is convex in s, so its derivative f'(s) = mean_i(E_p[z_i] - z_i,y) rises
    /// with s: a bracket around its zero is widened from s = 1 by doubling steps, then halved 200 times. When the
    /// held-out images are all classified correctly the CE has no minimum (it falls towards 0 as s grows); the bracket
    /// then stops where f' rounds to 0 (at most |s| = 1e8), which makes the relationship's rows nearly hard assignments,
    /// the limit the original code's 20 LBFGS rounds approach.</summary>
    public static double CalibrationScale(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var z = logits.to(ScalarType.Float64);
        var zy = z.gather(1, labels.unsqueeze(1)).squeeze(1);
        double Slope(double s)
        {
            using var inner = NewDisposeScope();
            return ((z.Times(s).softmax(1) * z).sum(1) - zy).mean().item<double>();
        }
        double lo = 1, hi = 1, step = 1;
        while (Slope(hi) < 0 && hi < 1e8) { lo = hi; hi += step; step *= 2; }
        step = 1;
        while (Slope(lo) > 0 && lo > -1e8) { hi = lo; lo -= step; step *= 2; }
        for (int i = 0; i < 200 && hi - lo > 1e-13 * Math.Max(1, Math.Abs(hi)); i++)
        {
            double mid = (lo + hi) / 2;
            if (Slope(mid) < 0) lo = mid; else hi = mid;
        }
        return (lo + hi) / 2;
    }

    /// <summary>L-BFGS (two-loop recursion, 10 pairs) with an Armijo backtracking line search on a smooth convex
    /// function of one tensor; stops when the largest gradient entry is at most 1e-9, when a step no longer lowers
    /// the value, or after 2000 iterations. Each iteration's temporaries die with its own dispose scope.</summary>
    private static Tensor MinimiseLbfgs(Func<Tensor, (double Value, Tensor Gradient)> f, Tensor start)
    {
        const int pairs = 10, maxIterations = 2000;
        var x = start;
        var (fx, g) = f(x);
        var history = new List<(Tensor S, Tensor Y, double Rho)>();
        for (int iteration = 0; iteration < maxIterations; iteration++)
        {
            if (g.abs().max().item<double>() <= 1e-9) break;
            using var step = NewDisposeScope();
            var direction = Direction(g, history);
            double slope = (g * direction).sum().item<double>();
            if (!(slope < 0))
            {
                direction = g.neg();
                slope = -(g * g).sum().item<double>();
                foreach (var (s, y, _) in history) { s.Dispose(); y.Dispose(); }
                history.Clear();
            }
            double length = history.Count == 0 ? Math.Min(1.0, 1.0 / Math.Max(1e-300, g.abs().sum().item<double>())) : 1.0;
            Tensor next, gNext;
            double fNext;
            while (true)
            {
                next = x.Plus(direction.Times(length));
                (fNext, gNext) = f(next);
                if (fNext <= fx + 1e-4 * length * slope || length < 1e-20) break;
                length *= 0.5;
            }
            var sStep = next - x;
            var yStep = gNext - g;
            double sy = (sStep * yStep).sum().item<double>();
            if (sy > 1e-300)
            {
                history.Add((sStep.MoveToOuterDisposeScope(), yStep.MoveToOuterDisposeScope(), 1.0 / sy));
                if (history.Count > pairs) { history[0].S.Dispose(); history[0].Y.Dispose(); history.RemoveAt(0); }
            }
            bool stalled = !(fNext < fx);
            x.Dispose();
            g.Dispose();
            (x, fx, g) = (next.MoveToOuterDisposeScope(), fNext, gNext.MoveToOuterDisposeScope());
            if (stalled) break;
        }
        foreach (var (s, y, _) in history) { s.Dispose(); y.Dispose(); }
        g.Dispose();
        return x;
    }

    /// <summary>The L-BFGS two-loop recursion: -H g for the inverse-Hessian estimate of the stored pairs.</summary>
    private static Tensor Direction(Tensor g, List<(Tensor S, Tensor Y, double Rho)> history)
    {
        var q = g.clone();
        var alphas = new double[history.Count];
        for (int i = history.Count - 1; i >= 0; i--)
        {
            alphas[i] = history[i].Rho * (history[i].S * q).sum().item<double>();
            q = q - history[i].Y.Times(alphas[i]);
        }
        if (history.Count > 0)
        {
            var (s, y, _) = history[^1];
            q = q.Times((s * y).sum().item<double>() / (y * y).sum().item<double>());
        }
        for (int i = 0; i < history.Count; i++)
        {
            double beta = history[i].Rho * (history[i].Y * q).sum().item<double>();
            q = q.Plus(history[i].S.Times(alphas[i] - beta));
        }
        return q.neg();
    }

    public void Dispose()
    {
        relationship?.Dispose();
        relationship = null;
    }
}

using Smile.Methods;
using Smile.Training;
using Smile.Weights;
using static TorchSharp.torch;

namespace Smile.Tests.Cli;

/// <summary>
/// A method defined only here, in one class, with a setting of its own: registered with one line and trained
/// through `smile finetune` (in this process, so that the registration counts), without any other file knowing it.
/// </summary>
public sealed class TestOnlyMethodTests(TinyTransferFixture data) : IClassFixture<TinyTransferFixture>
{
    /// <summary>Plain CE scaled by its own setting ce_scale, plus the classifier L2 every method adds.</summary>
    private sealed class ScaledCrossEntropy : IRegularizer
    {
        public static readonly MethodSetting<double> Scale = new("ce_scale", "Factor on the CE (test-only method).", 1.0,
            v => v >= 0 && double.IsFinite(v) ? null : "must be 0 or more");
        private double scale = Scale.Default;

        public string Name => "scaled_ce";
        public IReadOnlyList<MethodSetting> Settings => [Scale];
        public void Configure(MethodValues values) => scale = values.Get(Scale);

        public StepLosses Loss(TrainingContext ctx, StepBatch batch, MixPlan? mix)
        {
            using var scope = NewDisposeScope();
            var logits = ctx.Student.call(batch.Images).Logits;
            var terms = new List<(string, Tensor)>
            {
                ("main", nn.functional.cross_entropy(logits, batch.Labels).Times(scale)),
                ("cls", LossTerms.ClassifierL2(ctx).Times(ctx.Options.ClsLambda)),
            };
            return LossTerms.Finish(terms, LossTerms.Accuracy(logits, batch.Labels));
        }
    }

    private static readonly Lazy<bool> Registered = new(() =>
    {
        Regularizers.Register("scaled_ce", () => new ScaledCrossEntropy());
        return true;
    });

    private string[] Finetune(string save, params string[] extra) =>
    [
        "finetune", "--name", "own", "--train_dir", data.Train, "--eval_dir", data.Test, "--model_arch", "resnet18",
        "--pretrained", data.Source, "--image_size", "32", "--batch_size", "6", "--batch_size_eval", "4", "--max_iters", "3",
        "--eval_frequency", "3", "--print_frequency", "1", "--save", save, "--log_dir", Path.Combine(save, "tb"),
        "--regularizer", "scaled_ce", "--seed", "5", "--workers", "1", .. extra,
    ];

    [Fact]
    public void AMethodDefinedInTheTestProjectTrainsThroughFinetuneWithItsOwnFlag()
    {
        Assert.True(Registered.Value);
        var save = Path.Combine(data.Root, "own-method");
        Assert.Equal(0, Smile.Cli.SmileCommandLine.Run(Finetune(save, "--ce_scale", "0.5")));

        var last = Checkpoint.ReadInfo(Path.Combine(save, "own_scaled_ce_Last.safetensors"));
        Assert.Equal("scaled_ce", last.Regularizer);
        Assert.Equal("0.5", last.Arguments["ce_scale"]);
        Assert.Equal(2, last.Iteration);
        Assert.True(File.Exists(Path.Combine(save, "own_scaled_ce_Best.safetensors")));
        // The training log shows the method's own loss term under its name.
        Assert.Contains("scaled_ce loss", File.ReadAllText(Path.Combine(save, "own_scaled_ce.txt")));
    }

    [Fact]
    public void ItsFlagIsCheckedByTheMethodAndNamedInTheError()
    {
        Assert.True(Registered.Value);
        var save = Path.Combine(data.Root, "own-bad");
        var error = new StringWriter();
        var stderr = Console.Error;
        Console.SetError(error);
        try { Assert.Equal(2, Smile.Cli.SmileCommandLine.Run(Finetune(save, "--ce_scale", "-1"))); }
        finally { Console.SetError(stderr); }
        Assert.Equal("error: --ce_scale: must be 0 or more", error.ToString().Trim());
        Assert.False(Directory.Exists(save), "nothing may be written before the flags are checked");
    }
}

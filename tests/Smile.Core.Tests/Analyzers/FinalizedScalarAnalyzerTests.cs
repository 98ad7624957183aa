using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Smile.Analyzers;
using TorchSharp;

namespace Smile.Tests.Analyzers;

/// <summary>
/// SMILE001 (src/Smile.Analyzers) on snippets compiled against the TorchSharp the project uses: each form that leaves a
/// Scalar to the finalizer is reported, and each form the code writes instead (src/Smile.Core/TensorArithmetic.cs, a
/// 'using' Scalar, a static one) is not. The rule's reason: docs/DESIGN.md, "Scalars".
/// </summary>
public class FinalizedScalarAnalyzerTests
{
    [Theory]
    [InlineData("return a + b;")]
    [InlineData("return a + 1.0;")]
    [InlineData("return 2.0 + a;")]
    [InlineData("return a * 0.5;")]
    [InlineData("return 0.5 * a;")]
    [InlineData("return a / 3;")]
    [InlineData("return a - 1L;")]
    [InlineData("return 1.0 - a;")]
    [InlineData("return a.add(b);")]
    [InlineData("return a.add_(b);")]
    [InlineData("return torch.add(a, b);")]
    [InlineData("return a.addcdiv_(b, b);")]
    [InlineData("return a.clamp_min(1e-12);")]
    [InlineData("return a.mul(0.5);")]
    [InlineData("return a.pow(2);")]
    [InlineData("return a.fill_((Scalar)3.0);")]
    [InlineData("Scalar k = 0.5; return a.mul(k);")]
    [InlineData("using Scalar k = 0.5; return a + k;")]
    [InlineData("using Scalar k = 0.5; return k - a;")]
    [InlineData("var t = a; t += b; return t;")]
    [InlineData("var x = a.ToSingle(); return a;")]
    [InlineData("return a.mul(a.sum().ToScalar());")]
    [InlineData("return linalg.vector_norm(a);")]
    [InlineData("return nn.BatchNorm2d(3).call(a);")]
    [InlineData("return nn.BatchNorm1d(3).call(a);")]
    [InlineData("return linalg.matrix_norm(a, 2.0);")]
    // Members that make a Scalar inside TorchSharp (the scanned table, src/Smile.Analyzers/TorchSharpScalarMakers.cs).
    [InlineData("return a.square();")]
    [InlineData("return torch.square(a);")]
    [InlineData("return torch.arange(Held);")]
    [InlineData("return torch.arange(Held, Held);")]
    [InlineData("return nn.functional.leaky_relu(a);")]
    [InlineData("return nn.LeakyReLU().call(a);")]
    [InlineData("var x = (float)a; return a;")]
    [InlineData("var o = optim.Adagrad(new[] { new TorchSharp.Modules.Parameter(a) }); return a;")]
    public void AScalarLeftToTheFinalizerIsReported(string body)
    {
        var diagnostics = Analyze(body);
        Assert.Contains(diagnostics, d => d.Id == FinalizedScalarAnalyzer.Id && d.Severity == DiagnosticSeverity.Error);
    }

    [Theory]
    [InlineData("return a - b;")]
    [InlineData("return a * b;")]
    [InlineData("return a / b;")]
    [InlineData("using Scalar k = 0.5; return a.mul(k);")]
    [InlineData("using Scalar k = 0.5; return a * k;")]
    [InlineData("using Scalar k = 0.5; return a - k;")]
    [InlineData("using (Scalar k = 0.5) { return a.mul(k); }")]
    [InlineData("using Scalar k = 0.5, alpha = 2; return a.add(b, alpha: alpha).mul(k);")]
    [InlineData("return a.add_(b, Held);")]
    [InlineData("return a.add(b, alpha: Held);")]
    [InlineData("return a.addcdiv_(b, b, Held);")]
    [InlineData("return a.Plus(b).Times(0.5).DividedBy(2).Minus(1.0).SubtractedFrom(1.0).AddInPlace(b);")]
    [InlineData("var x = a.sum().item<float>(); return a;")]
    [InlineData("return Smile.Models.HeldBatchNorm.For2d(3).call(a);")]
    [InlineData("return a.Squared().Plus(torch.arange(Held, Held, Held)).relu();")]
    [InlineData("return linalg.norm(a, 2.0).Plus(linalg.matrix_norm(a, \"fro\")).Plus(a.norm(2.0f));")]
    public void AHeldScalarIsNotReported(string body)
    {
        var diagnostics = Analyze(body);
        Assert.DoesNotContain(diagnostics, d => d.Id == FinalizedScalarAnalyzer.Id);
    }

    [Fact]
    public void AMethodThatReturnsAScalarPassesItToItsCallerWhoMustHoldIt()
    {
        Assert.DoesNotContain(Analyze("return a;", extraMember: "static Scalar Make(double v) => v;"), d => d.Id == FinalizedScalarAnalyzer.Id);
        Assert.Contains(Analyze("return a.mul(Make(2.0));", extraMember: "static Scalar Make(double v) => v;"), d => d.Id == FinalizedScalarAnalyzer.Id);
        Assert.DoesNotContain(Analyze("using var k = Make(2.0); return a.mul(k);", extraMember: "static Scalar Make(double v) => v;"), d => d.Id == FinalizedScalarAnalyzer.Id);
    }

    private static ImmutableArray<Diagnostic> Analyze(string body, string extraMember = "")
    {
        string source = $$"""
            using Smile;
            using TorchSharp;
            using static TorchSharp.torch;
            static class Snippet
            {
                static readonly Scalar Held = 1.0;
                {{extraMember}}
                static Tensor Run(Tensor a, Tensor b)
                {
                    {{body}}
                }
            }
            """;
        var references = new[] { typeof(object), typeof(torch), typeof(TensorArithmetic), typeof(Enumerable) }
            .Select(t => t.Assembly.Location)
            .Concat(Directory.GetFiles(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "*.dll")
                .Where(p => Path.GetFileName(p) is "System.Runtime.dll" or "netstandard.dll" or "System.Collections.dll"))
            .Distinct()
            .Select(p => MetadataReference.CreateFromFile(p));
        var compilation = CSharpCompilation.Create("Snippet", [CSharpSyntaxTree.ParseText(source)], references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, $"the snippet does not compile: {string.Join("; ", errors)}\n{body}");
        return compilation.WithAnalyzers([new FinalizedScalarAnalyzer()]).GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult();
    }
}

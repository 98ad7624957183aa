using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Smile.Analyzers;

/// <summary>
/// SMILE001: no TorchSharp <c>Scalar</c> left to the finalizer. TorchSharp 0.107 passes a Scalar's native handle to
/// LibTorch and then no longer refers to the Scalar, so a Scalar that nothing else holds (one made from a number on the
/// spot, by an implicit conversion or inside an operator) can be collected while the native call still runs, and its
/// finalizer frees the native value on the finalizer thread under LibTorch's feet. Seen in this project as a test that
/// failed once in CI ("Expected false to be true" from c10's Scalar::toFloat on freed memory) and reproduced with a
/// thread that collects while another adds; docs/DESIGN.md, "Scalars", says what the code does instead.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class FinalizedScalarAnalyzer : DiagnosticAnalyzer
{
    public const string Id = "SMILE001";

    internal static readonly DiagnosticDescriptor Rule = new(
        Id,
        "TorchSharp Scalar left to the finalizer",
        "{0} makes a TorchSharp Scalar that only the garbage collector frees, and its finalizer can free it while LibTorch still reads it: hold the Scalar in a 'using' local or a static field and pass that (docs/DESIGN.md, \"Scalars\")",
        "Reliability",
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => ImmutableArray.Create(Rule);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            var scalar = start.Compilation.GetTypeByMetadataName("TorchSharp.Scalar");
            var tensor = start.Compilation.GetTypeByMetadataName("TorchSharp.torch+Tensor");
            if (scalar is null || tensor is null) return;
            var check = new ScalarUses(scalar, tensor);
            start.RegisterOperationAction(check.Conversion, OperationKind.Conversion);
            start.RegisterOperationAction(check.Invocation, OperationKind.Invocation);
            start.RegisterOperationAction(check.Operator, OperationKind.Binary, OperationKind.CompoundAssignment);
            start.RegisterOperationAction(check.MemberUse, OperationKind.ObjectCreation, OperationKind.PropertyReference, OperationKind.Conversion);
        });
    }
}

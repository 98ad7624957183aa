using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace Smile.Analyzers;

/// <summary>The ways a TorchSharp Scalar is made for a single call and left to the finalizer: conversions, calls and
/// operators, each checked by <see cref="FinalizedScalarAnalyzer"/>.</summary>
internal sealed class ScalarUses(INamedTypeSymbol scalar, INamedTypeSymbol tensor)
{
    /// <summary>TorchSharp methods that make a Scalar of 1 inside and do not dispose it, with the parameter that, when the
    /// caller passes it, avoids that: add(t), add(k), add_(t), add_(k) and torch.add(a, b) add with an alpha of 1 made
    /// on the spot, addcdiv(t1, t2) with a value of 1. (sub, mul and div have no such form in TorchSharp 0.107.)</summary>
    private static readonly Dictionary<string, string> MadeInside = new()
    {
        ["add"] = "alpha", ["add_"] = "alpha", ["addcdiv"] = "value", ["addcdiv_"] = "value",
    };

    /// <summary>The conversions of a one-element tensor to a number that go through a Scalar inside TorchSharp.</summary>
    private static readonly HashSet<string> ThroughScalar =
    [
        "ToSingle", "ToDouble", "ToHalf", "ToBFloat16", "ToSByte", "ToByte", "ToInt16", "ToInt32", "ToInt64",
        "ToBoolean", "ToComplexFloat32", "ToComplexFloat64", "ToComplex32", "ToComplex64",
    ];

    /// <summary>A number converted to a Scalar (implicitly or by a cast) must be held by its user.</summary>
    public void Conversion(OperationAnalysisContext context)
    {
        var conversion = (IConversionOperation)context.Operation;
        if (conversion.OperatorMethod is null || !SymbolEqualityComparer.Default.Equals(conversion.Type, scalar)) return;
        if (IsHeld(conversion)) return;
        Report(context, $"Converting {conversion.Operand.Type?.ToDisplayString() ?? "a value"} to Scalar here");
    }

    /// <summary>A call that returns a new Scalar must be held; a call that makes one inside TorchSharp is not allowed.</summary>
    public void Invocation(OperationAnalysisContext context)
    {
        var invocation = (IInvocationOperation)context.Operation;
        var method = invocation.TargetMethod;
        if (SymbolEqualityComparer.Default.Equals(method.ReturnType, scalar))
        {
            if (!IsHeld(invocation)) Report(context, $"{method.Name}() here");
            return;
        }
        if (!IsTorchSharp(method)) return;
        if (MadeInside.TryGetValue(method.Name, out var parameter) && !method.Parameters.Any(p => p.Name == parameter))
            Report(context, $"{method.Name}() without its '{parameter}' (a Scalar of 1 made inside TorchSharp)");
        else if (method.Name is "BatchNorm1d" or "BatchNorm2d" or "BatchNorm3d")
            Report(context, $"TorchSharp's {method.Name} (its training forward counts batches with add_(1); build it with Smile.Models.HeldBatchNorm)");
        else if (method.Name == "vector_norm" || (method.Name == "matrix_norm" && method.Parameters.Any(p => p.Name == "ord" && p.Type.SpecialType == SpecialType.System_Double)))
            Report(context, $"linalg.{method.Name}() with a number 'ord' (made into a Scalar inside TorchSharp; use Tensor.norm or linalg.norm)");
        else if (method.IsExtensionMethod && ThroughScalar.Contains(method.Name))
            Report(context, $"{method.Name}() (through Tensor.ToScalar() inside TorchSharp; read the value with item<T>())");
        else if (MadeInsideTorchSharp(method) is { } site)
            Report(context, $"{method.ContainingType.Name}.{method.Name}() (a Scalar made inside TorchSharp, at its {site})");
        else if (ForwardMakesScalar(method.ReturnType) is { } forward)
            Report(context, $"TorchSharp's {method.ReturnType.Name} (its forward makes a Scalar inside TorchSharp, at its {forward})");
    }

    /// <summary>Any other TorchSharp member that makes a Scalar inside and leaves it to the finalizer: a constructor,
    /// a property, a conversion operator (the table, <see cref="TorchSharpScalarMakers"/>, comes from a scan of
    /// TorchSharp's source).</summary>
    public void MemberUse(OperationAnalysisContext context)
    {
        ISymbol? member = context.Operation switch
        {
            IObjectCreationOperation creation => creation.Constructor,
            IPropertyReferenceOperation property => property.Property,
            IConversionOperation conversion => conversion.OperatorMethod,
            _ => null,
        };
        if (member is not null && MadeInsideTorchSharp(member) is { } site)
            Report(context, $"{member.ContainingType.Name}.{member.Name} (a Scalar made inside TorchSharp, at its {site})");
        else if (context.Operation is IObjectCreationOperation { Type: { } made } && ForwardMakesScalar(made) is { } forward)
            Report(context, $"TorchSharp's {made.Name} (its forward makes a Scalar inside TorchSharp, at its {forward})");
    }

    /// <summary>A module is called through Module.call, out of the analyzer's sight, so a TorchSharp module whose forward
    /// makes a Scalar is reported where it is made: where that forward makes it, or null. The forward that runs is the
    /// most derived class's (Smile.Models.HeldBatchNorm's, not TorchSharp's BatchNorm's).</summary>
    private static string? ForwardMakesScalar(ITypeSymbol type)
    {
        for (var t = type as INamedTypeSymbol; t is not null; t = t.BaseType)
        {
            var forwards = t.GetMembers("forward").OfType<IMethodSymbol>().ToList();
            if (forwards.Count > 0) return forwards.Select(MadeInsideTorchSharp).FirstOrDefault(site => site is not null);
        }
        return null;
    }

    /// <summary>Where <paramref name="member"/> makes a Scalar inside TorchSharp, or null.</summary>
    private static string? MadeInsideTorchSharp(ISymbol member)
    {
        if (member is IMethodSymbol { ReducedFrom: { } extension }) member = extension;
        member = member.OriginalDefinition;
        if (member.ContainingNamespace?.ToDisplayString() is not { } ns || !(ns == "TorchSharp" || ns.StartsWith("TorchSharp.", StringComparison.Ordinal)))
            return null;
        var id = DocumentationCommentId.CreateDeclarationId(member);
        if (id is null) return null;
        int returnType = id.IndexOf('~');
        if (returnType >= 0 && member is not IMethodSymbol { MethodKind: MethodKind.Conversion }) id = id.Substring(0, returnType);
        return TorchSharpScalarMakers.Members.TryGetValue(id, out var site) ? site : null;
    }

    /// <summary>TorchSharp's Tensor operators with a number operand convert it inside TorchSharp, every + adds with an
    /// alpha of 1 made on the spot, and Scalar - Tensor is computed as -t + k: each leaves a Scalar to the finalizer.
    /// (Tensor - Tensor, Tensor * Tensor and Tensor / Tensor make none.)</summary>
    public void Operator(OperationAnalysisContext context)
    {
        var (method, kind) = context.Operation switch
        {
            IBinaryOperation binary => (binary.OperatorMethod, binary.OperatorKind),
            ICompoundAssignmentOperation compound => (compound.OperatorMethod, compound.OperatorKind),
            _ => (null, BinaryOperatorKind.None),
        };
        if (method is null || !SymbolEqualityComparer.Default.Equals(method.ContainingType, tensor)) return;
        if (method.Parameters.Any(p => IsNumber(p.Type)))
            Report(context, $"The operator Tensor {Symbol(kind)} number");
        else if (kind == BinaryOperatorKind.Add)
            Report(context, "The operator + on a Tensor (an alpha of 1 made inside TorchSharp)");
        else if (kind == BinaryOperatorKind.Subtract && !IsTensor(method.Parameters[0].Type))
            Report(context, "The operator Scalar - Tensor (-t + k, with an alpha of 1 made inside TorchSharp)");
    }

    /// <summary>Held: the initial value of a 'using' local, a value stored in a field or property, or the value a
    /// method returns (its caller is checked in turn).</summary>
    private static bool IsHeld(IOperation made)
    {
        var value = made;
        while (value.Parent is IConditionalOperation or ICoalesceOperation or IParenthesizedOperation
               || value.Parent is IConversionOperation { OperatorMethod: null })
            value = value.Parent;
        switch (value.Parent)
        {
            case IReturnOperation:
            case IFieldInitializerOperation:
            case IPropertyInitializerOperation:
                return true;
            case ISimpleAssignmentOperation assignment when assignment.Value == value:
                return assignment.Target is IFieldReferenceOperation or IPropertyReferenceOperation;
            case IVariableInitializerOperation initializer:
                for (IOperation? up = initializer.Parent; up is not null; up = up.Parent)
                {
                    if (up is IUsingDeclarationOperation or IUsingOperation) return true;
                    if (up is not (IVariableDeclaratorOperation or IVariableDeclarationOperation or IVariableDeclarationGroupOperation)) return false;
                }
                return false;
            default:
                return false;
        }
    }

    private static bool IsTorchSharp(IMethodSymbol method) =>
        method.ContainingNamespace?.ToDisplayString() is { } ns && (ns == "TorchSharp" || ns.StartsWith("TorchSharp.", StringComparison.Ordinal));

    private bool IsTensor(ITypeSymbol type) => SymbolEqualityComparer.Default.Equals(type, tensor);

    private static bool IsNumber(ITypeSymbol type) => type.SpecialType is SpecialType.System_Byte or SpecialType.System_SByte
        or SpecialType.System_Int16 or SpecialType.System_Int32 or SpecialType.System_Int64 or SpecialType.System_Single
        or SpecialType.System_Double or SpecialType.System_Boolean;

    private static string Symbol(BinaryOperatorKind kind) => kind switch
    {
        BinaryOperatorKind.Add => "+",
        BinaryOperatorKind.Subtract => "-",
        BinaryOperatorKind.Multiply => "*",
        BinaryOperatorKind.Divide => "/",
        BinaryOperatorKind.Remainder => "%",
        _ => kind.ToString(),
    };

    private static void Report(OperationAnalysisContext context, string what) =>
        context.ReportDiagnostic(Diagnostic.Create(FinalizedScalarAnalyzer.Rule, context.Operation.Syntax.GetLocation(), what));
}

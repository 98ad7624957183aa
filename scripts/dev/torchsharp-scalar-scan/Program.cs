// ScalarScan: finds public TorchSharp members that (directly or transitively) create a TorchSharp.Scalar
// that is not held (not disposed / not stored / not returned) -- i.e. left to the finalizer while
// its .Handle may still be in use by native code. scripts/dev/torchsharp-scalar-scan.sh runs it and turns its
// result.ids into the analyzer's table (src/Smile.Analyzers/TorchSharpScalarMakers.cs). A developer's tool, not
// part of the solution; written for this project with the help of a colleague's scan (2026-12-05).
//
// Usage: dotnet run -c Release -- <path to src/TorchSharp> <output dir> [--virtual]
//   --virtual : also add call-graph edges from a virtual/abstract/interface method to all its overrides
//               (off by default; the default graph uses statically bound targets only).
using System.Collections.Immutable;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

static class Program
{
    static string SrcRoot = "";
    static INamedTypeSymbol ScalarType;
    static Compilation Comp;

    // member bodies: a member can have several (ctor body + field initializers)
    static readonly Dictionary<IMethodSymbol, List<IOperation>> Bodies = new(SymbolEqualityComparer.Default);
    static readonly HashSet<IMethodSymbol> SourceMethods = new(SymbolEqualityComparer.Default);
    // call graph: caller -> callee -> first call-site location
    static readonly Dictionary<IMethodSymbol, Dictionary<IMethodSymbol, Location>> Calls = new(SymbolEqualityComparer.Default);
    static HashSet<IMethodSymbol> Factories = new(SymbolEqualityComparer.Default);
    static HashSet<IParameterSymbol> StoringParams = new(SymbolEqualityComparer.Default);

    record Site(IMethodSymbol Member, Location Loc, string What, string How, bool Offends, string HeldHow);

    static int Main(string[] args)
    {
        if (args.Length < 2) { Console.Error.WriteLine("usage: ScalarScan <path to src/TorchSharp> <output dir> [--virtual]"); return 2; }
        SrcRoot = Path.GetFullPath(args[0]);
        var outDir = Path.GetFullPath(args[1]);
        bool virtualEdges = args.Contains("--virtual");

        // ---------- 1. compilation ----------
        var symbols = new[] { "NET", "NET8_0", "NET8_0_OR_GREATER", "NET7_0_OR_GREATER", "NET6_0_OR_GREATER", "NET5_0_OR_GREATER",
            "NETCOREAPP", "NETCOREAPP3_1_OR_GREATER", "NETCOREAPP3_0_OR_GREATER", "NETCOREAPP2_1_OR_GREATER", "NETCOREAPP2_0_OR_GREATER",
            "NETCOREAPP1_0_OR_GREATER", "RELEASE", "TRACE", "LIBTORCH_2_10_0_0", "CUDA_12_8" };
        var parseOpts = new CSharpParseOptions(LanguageVersion.CSharp9, preprocessorSymbols: symbols);
        var files = Directory.EnumerateFiles(SrcRoot, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/obj/") && !f.Contains("/bin/") && !f.Contains("/TorchVision/"))
            .Where(f => Path.GetRelativePath(SrcRoot, f) != "netstandard.cs") // removed for .NETCoreApp in the csproj
            .OrderBy(f => f, StringComparer.Ordinal).ToList();
        var trees = files.Select(f => CSharpSyntaxTree.ParseText(File.ReadAllText(f), parseOpts, path: f)).ToList();

        var refs = new List<MetadataReference>();
        var fw = FindSharedFramework();
        foreach (var dll in Directory.EnumerateFiles(fw, "*.dll"))
        {
            if (!IsManaged(dll)) continue;
            refs.Add(MetadataReference.CreateFromFile(dll));
        }
        var nuget = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget/packages");
        foreach (var rel in new[] { "google.protobuf/3.21.9/lib/net5.0/Google.Protobuf.dll", "sharpziplib/1.4.0/lib/net6.0/ICSharpCode.SharpZipLib.dll",
                                    "skiasharp/2.88.6/lib/netstandard2.1/SkiaSharp.dll" })
        {
            var p = Path.Combine(nuget, rel);
            if (File.Exists(p)) refs.Add(MetadataReference.CreateFromFile(p)); else Console.Error.WriteLine($"warning: missing package reference {p}");
        }
        Comp = CSharpCompilation.Create("TorchSharp", trees, refs,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable));
        ScalarType = Comp.GetTypeByMetadataName("TorchSharp.Scalar") ?? throw new Exception("TorchSharp.Scalar not found");

        var diags = Comp.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        var sbDiag = new StringBuilder();
        sbDiag.AppendLine($"files parsed: {trees.Count}; metadata references: {refs.Count} (shared framework {fw})");
        sbDiag.AppendLine($"compile errors: {diags.Count}");
        foreach (var g in diags.GroupBy(d => d.Id).OrderByDescending(g => g.Count()))
            sbDiag.AppendLine($"  {g.Key} x{g.Count()}  e.g. {Short(g.First())}");

        // ---------- 2. collect bodies ----------
        foreach (var tree in trees)
        {
            var model = Comp.GetSemanticModel(tree);
            foreach (var node in tree.GetRoot().DescendantNodes())
            {
                switch (node)
                {
                    case BaseMethodDeclarationSyntax m:
                        {
                            var sym = model.GetDeclaredSymbol(m) as IMethodSymbol;
                            if (sym == null) break;
                            SourceMethods.Add(Norm(sym));
                            if (m.Body == null && m.ExpressionBody == null && !(m is ConstructorDeclarationSyntax)) break;
                            var op = model.GetOperation(m);
                            if (op != null) AddBody(sym, op);
                            if (m is ConstructorDeclarationSyntax c && c.Initializer == null && !sym.IsStatic)
                                AddImplicitBaseCtorEdge(sym, c.GetLocation());
                            break;
                        }
                    case AccessorDeclarationSyntax a:
                        {
                            var sym = model.GetDeclaredSymbol(a) as IMethodSymbol;
                            if (sym == null) break;
                            SourceMethods.Add(Norm(sym));
                            if (a.Body == null && a.ExpressionBody == null) break;
                            var op = model.GetOperation(a);
                            if (op != null) AddBody(sym, op);
                            break;
                        }
                    case BasePropertyDeclarationSyntax p:
                        {
                            var psym = model.GetDeclaredSymbol(p) as IPropertySymbol;
                            ArrowExpressionClauseSyntax arrow = p is PropertyDeclarationSyntax pd ? pd.ExpressionBody : p is IndexerDeclarationSyntax id ? id.ExpressionBody : null;
                            if (psym?.GetMethod != null && arrow != null)
                            {
                                SourceMethods.Add(Norm(psym.GetMethod));
                                var op = model.GetOperation(arrow);
                                if (op != null) AddBody(psym.GetMethod, op);
                            }
                            if (p is PropertyDeclarationSyntax pd2 && pd2.Initializer != null && psym != null)
                            {
                                var op = model.GetOperation(pd2.Initializer);
                                if (op != null) AddInitializer(psym.ContainingType, psym.IsStatic, op);
                            }
                            break;
                        }
                    case VariableDeclaratorSyntax v when v.Initializer != null && v.Parent?.Parent is FieldDeclarationSyntax:
                        {
                            var fsym = model.GetDeclaredSymbol(v) as IFieldSymbol;
                            if (fsym == null) break;
                            var op = model.GetOperation(v.Initializer);
                            if (op != null) AddInitializer(fsym.ContainingType, fsym.IsStatic, op);
                            break;
                        }
                }
            }
        }
        // implicit (compiler generated) constructors: they exist as nodes and call base()
        foreach (var t in AllSourceTypes(Comp.Assembly.GlobalNamespace))
            foreach (var c in t.InstanceConstructors.Where(c => c.IsImplicitlyDeclared))
            {
                SourceMethods.Add(Norm(c));
                AddImplicitBaseCtorEdge(c, t.Locations.FirstOrDefault());
            }

        // binding quality
        int invalidOps = 0, invocations = 0, invalidInvocations = 0, nameofCount = 0;
        var unbound = new StringBuilder();
        foreach (var op in Bodies.Values.SelectMany(l => l).SelectMany(o => o.DescendantsAndSelf()))
        {
            if (op is IInvalidOperation) invalidOps++;
            if (op is IInvocationOperation) invocations++;
        }
        foreach (var tree in trees)
        {
            var model = Comp.GetSemanticModel(tree);
            foreach (var inv in tree.GetRoot().DescendantNodes().OfType<InvocationExpressionSyntax>())
                if (model.GetSymbolInfo(inv).Symbol == null)
                {
                    var isNameof = inv.Expression is IdentifierNameSyntax { Identifier.Text: "nameof" };
                    if (isNameof) nameofCount++; else { invalidInvocations++; unbound.AppendLine($"{Loc(inv.GetLocation())}: {inv.ToString().Split('\n')[0]}  [{model.GetSymbolInfo(inv).CandidateReason}]"); }
                }
        }
        int totalInv = trees.Sum(t => t.GetRoot().DescendantNodes().OfType<InvocationExpressionSyntax>().Count());
        sbDiag.AppendLine($"invocation expressions: {totalInv}, nameof(): {nameofCount}, other unbound (no symbol): {invalidInvocations}; IInvalidOperation nodes in bodies: {invalidOps}; member bodies analysed: {Bodies.Count}");

        // ---------- 3. call graph ----------
        foreach (var (m, list) in Bodies)
            foreach (var root in list)
                foreach (var op in root.DescendantsAndSelf())
                    foreach (var callee in Callees(op))
                        AddEdge(m, callee, op.Syntax.GetLocation());
        if (virtualEdges)
        {
            foreach (var m in SourceMethods.ToList())
            {
                var ov = m.OverriddenMethod;
                while (ov != null) { AddEdge(Norm(ov), m, m.Locations.First()); ov = ov.OverriddenMethod; }
                foreach (var im in m.ContainingType.AllInterfaces.SelectMany(i => i.GetMembers().OfType<IMethodSymbol>()))
                {
                    var impl = m.ContainingType.FindImplementationForInterfaceMember(im);
                    if (SymbolEqualityComparer.Default.Equals(impl?.OriginalDefinition, m)) AddEdge(Norm(im), m, m.Locations.First());
                }
            }
        }

        // ---------- 4. storing params & factories (fixpoint) ----------
        ComputeStoringParams();
        List<Site> sites;
        while (true)
        {
            sites = CollectSites();
            var newF = new HashSet<IMethodSymbol>(SymbolEqualityComparer.Default);
            foreach (var s in sites.Where(s => s.HeldHow == "returned"))
            {
                var rt = s.Member.ReturnType;
                if (SymbolEqualityComparer.Default.Equals(rt.OriginalDefinition, ScalarType)) newF.Add(s.Member);
            }
            if (newF.SetEquals(Factories)) break;
            Factories = newF;
        }
        var offending = sites.Where(s => s.Offends).ToList();

        // ---------- 5. reachability (BFS on reverse graph) ----------
        var rev = new Dictionary<IMethodSymbol, List<IMethodSymbol>>(SymbolEqualityComparer.Default);
        foreach (var (a, cs) in Calls) foreach (var b in cs.Keys) { if (!rev.TryGetValue(b, out var l)) rev[b] = l = new(); l.Add(a); }

        var sitesBy = new Dictionary<IMethodSymbol, List<Site>>(SymbolEqualityComparer.Default);
        foreach (var s in offending.OrderBy(s => s.Loc.GetLineSpan().StartLinePosition.Line))
        { if (!sitesBy.TryGetValue(s.Member, out var l)) sitesBy[s.Member] = l = new(); l.Add(s); }

        var all = Bfs(sitesBy, rev, excludeFormatting: false);
        var real = Bfs(sitesBy, rev, excludeFormatting: true);

        // ---------- 6. report ----------
        var rows = new List<Row>();
        foreach (var (m, _) in all)
        {
            if (!IsPublicApi(m)) continue;
            bool fmt = !real.ContainsKey(m) || IsFormatting(m);
            var next = fmt ? all : real;
            var chain = new List<string>();
            var cur = m; Site site = null;
            var hops = new List<(IMethodSymbol m, Location at)>();
            while (true)
            {
                var (d, nxt, at) = next[cur];
                if (d == 0) { site = sitesBy[cur][0]; break; }
                hops.Add((nxt, at));
                cur = nxt;
            }
            rows.Add(new Row(m, fmt, hops, site, sitesBy.ContainsKey(m) ? sitesBy[m].Count : 0));
        }
        rows = rows.OrderBy(r => Group(r.M)).ThenBy(r => TypeName(r.M.ContainingType)).ThenBy(r => MemberName(r.M)).ThenBy(r => Params(r.M)).ToList();

        // dedupe property accessors into one row per property accessor (keep)
        var md = new StringBuilder();
        md.AppendLine("# TorchSharp public members that create an undisposed TorchSharp.Scalar");
        md.AppendLine();
        md.AppendLine($"Source: {SrcRoot}. Tool: scripts/dev/torchsharp-scalar-scan/ (rerun: scripts/dev/torchsharp-scalar-scan.sh).");
        md.AppendLine();
        md.AppendLine("## Compilation");
        md.AppendLine("```");
        md.Append(sbDiag);
        md.AppendLine("```");
        md.AppendLine();
        md.AppendLine($"Offending sites (Scalar made and not held) inside TorchSharp: {offending.Count} in {sitesBy.Count} members. Scalar factories (return a fresh Scalar; their callers are checked): {Factories.Count}.");
        md.AppendLine($"Public members reaching an offending site: {rows.Count} ({rows.Count(r => !r.Fmt)} real, {rows.Count(r => r.Fmt)} only via printing/ToString/formatting).");
        md.AppendLine(virtualEdges ? "Call graph: static targets + virtual/interface dispatch to overrides." :
            "Call graph: statically bound targets only (a call through an abstract/virtual member, e.g. Module.call -> forward, is not expanded; the offending overrides are listed themselves).");
        md.AppendLine();
        md.AppendLine("Notes: a site is a user-defined conversion to Scalar, a call of a Scalar factory (a member that returns a fresh Scalar), or `new Scalar(...)`, " +
            "whose value is not the resource of a `using`, not stored in a field/property (or in an array/collection that is itself held/returned), not returned, and not a local that is later disposed/stored/returned. " +
            "Calls inside lambdas/local functions are attributed to the enclosing member. Formatting members (ToString/str/print/npstr/cstr/jlstr/metastr/Build*/PrintValue...) are not traversed for the 'real' list; " +
            "members reached only through them are listed separately. Public members that *return* fresh Scalars (ToScalar, tolist, and ScriptModule.forward/call/invoke which may return Scalars built in ProcessReturnValue) hand ownership to the caller and are not counted as offenders by that path.");
        md.AppendLine();
        md.AppendLine("## Compact list (grouped)");
        foreach (var grp in rows.Where(r => !r.Fmt).GroupBy(r => Group(r.M)))
        {
            md.AppendLine();
            md.AppendLine($"### {GroupName(grp.Key)} ({grp.Count()})");
            foreach (var tg in grp.GroupBy(r => TypeName(r.M.ContainingType)))
            {
                var items = tg.Select(r => $"{MemberName(r.M)}({Params(r.M)})").Distinct();
                md.AppendLine($"- **{tg.Key}**: " + string.Join("; ", items.Select(s => $"`{s}`")));
            }
        }
        md.AppendLine();
        md.AppendLine($"### Printing / ToString / formatting only ({rows.Count(r => r.Fmt)}) — reach a site only through formatting code");
        foreach (var tg in rows.Where(r => r.Fmt).GroupBy(r => TypeName(r.M.ContainingType)))
            md.AppendLine($"- **{tg.Key}**: " + string.Join("; ", tg.Select(r => $"`{MemberName(r.M)}({Params(r.M)})`").Distinct()));

        md.AppendLine();
        md.AppendLine("## Offending sites (all)");
        md.AppendLine("| site | in member | Scalar made by | not held because |");
        md.AppendLine("|---|---|---|---|");
        foreach (var s in offending.OrderBy(s => Loc(s.Loc), StringComparer.Ordinal))
            md.AppendLine($"| {Loc(s.Loc)} | {Esc(Sig(s.Member))} | {Esc(s.What)} | {Esc(s.How)} |");
        md.AppendLine();
        md.AppendLine("## Scalar factories (return a fresh Scalar; not offenders themselves)");
        foreach (var f in Factories.OrderBy(f => Sig(f))) md.AppendLine($"- {Sig(f)}");
        md.AppendLine();
        md.AppendLine("## Public members that hand fresh Scalars to the caller (returned directly or inside a tuple/array/collection; caller must dispose)");
        foreach (var g in sites.Where(s => !s.Offends && (s.HeldHow == "returned" || s.HeldHow.Contains("returned"))).GroupBy(s => s.Member, SymbolEqualityComparer.Default))
            if (IsPublicApi((IMethodSymbol)g.Key)) md.AppendLine($"- {Sig((IMethodSymbol)g.Key)}  ({Loc(g.First().Loc)})");
        md.AppendLine();
        md.AppendLine("## Check against the shipped TorchSharp 0.107.0 package");
        md.AppendLine(CheckAgainstPackage(rows, refs, nuget));
        md.AppendLine();
        md.AppendLine("## Held sites (for review: Scalar made and held -- using/disposed/stored/returned)");
        foreach (var g in sites.Where(s => !s.Offends).GroupBy(s => s.HeldHow).OrderBy(g => g.Key))
        {
            md.AppendLine($"- {g.Key}: {g.Count()}");
            foreach (var s in g.Where(s => g.Key != "returned").OrderBy(s => Loc(s.Loc)))
                md.AppendLine($"  - {Loc(s.Loc)} in {Sig(s.Member)}: {s.What}");
        }
        md.AppendLine();
        md.AppendLine("## Chains (shortest path to an offending site)");
        foreach (var r in rows)
        {
            var sb = new StringBuilder();
            sb.Append($"- {(r.Fmt ? "[formatting] " : "")}`{Sig(r.M)}`");
            foreach (var (h, at) in r.Hops) sb.Append($" → `{Sig(h)}` (call at {Loc(at)})");
            sb.Append($" ⇒ site {Loc(r.Site.Loc)}: {r.Site.What}; {r.Site.How}");
            if (r.DirectSites > 1) sb.Append($" (+{r.DirectSites - 1} more direct sites)");
            md.AppendLine(sb.ToString());
        }
        File.WriteAllText(Path.Combine(outDir, "result.md"), md.ToString());
        var dbg = new StringBuilder();
        dbg.AppendLine("## unbound invocations"); dbg.Append(unbound);
        dbg.AppendLine("## storing Scalar parameters"); foreach (var sp in StoringParams) dbg.AppendLine($"{Sig((IMethodSymbol)sp.ContainingSymbol)} {sp.Name}");
        dbg.AppendLine("## error diagnostics"); foreach (var d in diags) dbg.AppendLine(Short(d));
        File.WriteAllText(Path.Combine(outDir, "scan_debug.txt"), dbg.ToString());

        var tsv = new StringBuilder();
        tsv.AppendLine("#type\tmember\tparameter_types\tsite\tcategory");
        foreach (var r in rows)
            tsv.AppendLine($"{FullTypeName(r.M.ContainingType)}\t{MemberName(r.M)}\t{Params(r.M)}\t{Loc(r.Site.Loc)}\t{(r.Fmt ? "formatting-only" : GroupKey(r.M))}");
        File.WriteAllText(Path.Combine(outDir, "result.tsv"), tsv.ToString());
        var ids = new StringBuilder();
        foreach (var r in rows.Where(r => !r.Fmt))
            ids.AppendLine($"{DocumentationCommentId.CreateDeclarationId(r.M.MethodKind is MethodKind.PropertyGet or MethodKind.PropertySet ? r.M.AssociatedSymbol : r.M)}\t{Loc(r.Site.Loc)}");
        File.WriteAllText(Path.Combine(outDir, "result.ids"), ids.ToString());

        Console.Write(sbDiag);
        Console.WriteLine($"offending sites: {offending.Count}; factories: {Factories.Count}; public offenders: {rows.Count} (real {rows.Count(r => !r.Fmt)}, formatting-only {rows.Count(r => r.Fmt)})");
        foreach (var g in rows.Where(r => !r.Fmt).GroupBy(r => Group(r.M))) Console.WriteLine($"  {GroupName(g.Key)}: {g.Count()}");
        return 0;
    }

    static string CheckAgainstPackage(List<Row> rows, List<MetadataReference> refs, string nuget)
    {
        var dll = Path.Combine(nuget, "torchsharp/0.107.0/lib/net8.0/TorchSharp.dll");
        if (!File.Exists(dll)) return $"package dll not found ({dll}); skipped";
        var c2 = CSharpCompilation.Create("probe", Array.Empty<SyntaxTree>(), refs.Append(MetadataReference.CreateFromFile(dll)));
        var missing = new List<string>();
        foreach (var r in rows)
        {
            var id = DocumentationCommentId.CreateDeclarationId(r.M.MethodKind is MethodKind.PropertyGet or MethodKind.PropertySet ? r.M.AssociatedSymbol : r.M);
            var sym = DocumentationCommentId.GetFirstSymbolForDeclarationId(id, c2);
            if (sym == null || sym.DeclaredAccessibility != Accessibility.Public) missing.Add($"{Sig(r.M)} [{id}]");
        }
        return $"{rows.Count - missing.Count} of {rows.Count} reported members exist as public members (same documentation id) in {dll}." +
               (missing.Count > 0 ? " Not found: " + string.Join("; ", missing) : "");
    }

    record Row(IMethodSymbol M, bool Fmt, List<(IMethodSymbol m, Location at)> Hops, Site Site, int DirectSites);

    // ---------------- helpers: bodies / graph ----------------
    static IMethodSymbol Norm(IMethodSymbol m)
    {
        m = (m.ReducedFrom ?? m).OriginalDefinition;
        if (m.PartialDefinitionPart != null) m = m.PartialDefinitionPart;
        return m;
    }

    static void AddBody(IMethodSymbol m, IOperation op)
    {
        m = Norm(m);
        if (!Bodies.TryGetValue(m, out var l)) Bodies[m] = l = new();
        l.Add(op);
    }

    static void AddInitializer(INamedTypeSymbol t, bool isStatic, IOperation op)
    {
        var ctors = isStatic ? t.StaticConstructors : t.InstanceConstructors;
        if (ctors.Length == 0 && isStatic)
        {
            // no static ctor symbol: attribute to a pseudo member = the type's first declared method? use "<cctor>" via any static member: keep on all static methods is too much; attribute to instance ctors + record as type init
            ctors = t.InstanceConstructors;
        }
        foreach (var c in ctors) { SourceMethods.Add(Norm(c)); AddBody(c, op); }
    }

    static void AddImplicitBaseCtorEdge(IMethodSymbol ctor, Location loc)
    {
        var bt = ctor.ContainingType.BaseType;
        if (bt == null) return;
        var bc = bt.InstanceConstructors.FirstOrDefault(c => c.Parameters.All(p => p.IsOptional || p.IsParams));
        if (bc != null && bc.Locations.Any(l => l.IsInSource)) AddEdge(Norm(ctor), bc, loc ?? Location.None);
    }

    static void AddEdge(IMethodSymbol from, IMethodSymbol to, Location at)
    {
        if (to == null) return;
        to = Norm(to);
        if (!to.Locations.Any(l => l.IsInSource)) return;
        from = Norm(from);
        if (SymbolEqualityComparer.Default.Equals(from, to)) return;
        if (!Calls.TryGetValue(from, out var d)) Calls[from] = d = new(SymbolEqualityComparer.Default);
        if (!d.ContainsKey(to)) d[to] = at;
    }

    static IEnumerable<IMethodSymbol> Callees(IOperation op)
    {
        switch (op)
        {
            case IInvocationOperation i: yield return i.TargetMethod; break;
            case IObjectCreationOperation o: if (o.Constructor != null) yield return o.Constructor; break;
            case IBinaryOperation b: if (b.OperatorMethod != null) yield return b.OperatorMethod; break;
            case IUnaryOperation u: if (u.OperatorMethod != null) yield return u.OperatorMethod; break;
            case ICompoundAssignmentOperation ca:
                if (ca.OperatorMethod != null) yield return ca.OperatorMethod;
                if (ca.InConversion.MethodSymbol != null) yield return ca.InConversion.MethodSymbol;
                if (ca.OutConversion.MethodSymbol != null) yield return ca.OutConversion.MethodSymbol;
                break;
            case IIncrementOrDecrementOperation inc: if (inc.OperatorMethod != null) yield return inc.OperatorMethod; break;
            case IConversionOperation c: if (c.OperatorMethod != null) yield return c.OperatorMethod; break;
            case IMethodReferenceOperation mr: yield return mr.Method; break;
            case IPropertyReferenceOperation pr:
                {
                    var p = pr.Property;
                    bool isTarget = pr.Parent is IAssignmentOperation a && a.Target == pr;
                    bool isCompound = pr.Parent is ICompoundAssignmentOperation || pr.Parent is IIncrementOrDecrementOperation || pr.Parent is ICoalesceAssignmentOperation;
                    if ((!isTarget || isCompound) && p.GetMethod != null) yield return p.GetMethod;
                    if ((isTarget || isCompound) && p.SetMethod != null) yield return p.SetMethod;
                    break;
                }
            case IUsingOperation u:
                foreach (var d in DisposeOf(u.Resources)) yield return d; break;
            case IUsingDeclarationOperation ud:
                foreach (var d in DisposeOf(ud.DeclarationGroup)) yield return d; break;
        }
    }

    static IEnumerable<IMethodSymbol> DisposeOf(IOperation res)
    {
        var types = new List<ITypeSymbol>();
        if (res is IVariableDeclarationGroupOperation g)
            foreach (var d in g.Declarations) foreach (var v in d.Declarators) types.Add(v.Symbol.Type);
        else if (res?.Type != null) types.Add(res.Type);
        foreach (var t in types)
        {
            for (var tt = t as INamedTypeSymbol; tt != null; tt = tt.BaseType)
            {
                var disp = tt.GetMembers("Dispose").OfType<IMethodSymbol>().FirstOrDefault(m => m.Parameters.Length == 0);
                if (disp != null) { yield return disp; break; }
            }
        }
    }

    // ---------------- sites ----------------
    static bool IsScalar(ITypeSymbol t) => t != null && SymbolEqualityComparer.Default.Equals(t.OriginalDefinition, ScalarType);

    static List<Site> CollectSites()
    {
        var res = new List<Site>();
        foreach (var (m, list) in Bodies)
            foreach (var root in list)
                foreach (var op in root.DescendantsAndSelf())
                {
                    string what = null;
                    switch (op)
                    {
                        case IConversionOperation c when c.OperatorMethod != null && IsScalar(c.OperatorMethod.ReturnType):
                            what = $"implicit conversion {c.Operand.Type?.ToDisplayString() ?? "?"} → Scalar";
                            break;
                        case IInvocationOperation i when IsScalar(i.TargetMethod.ReturnType) && Factories.Contains(Norm(i.TargetMethod)):
                            what = $"call {Sig(Norm(i.TargetMethod))}";
                            break;
                        case IPropertyReferenceOperation pr when IsScalar(pr.Type) && pr.Property.GetMethod != null && Factories.Contains(Norm(pr.Property.GetMethod))
                                                              && !(pr.Parent is IAssignmentOperation a && a.Target == pr):
                            what = $"property {pr.Property.Name} (fresh Scalar)";
                            break;
                        case IObjectCreationOperation o when IsScalar(o.Type):
                            what = "new Scalar(...)";
                            break;
                    }
                    if (what == null) continue;
                    var (held, how) = Held(op, root);
                    res.Add(new Site(m, op.Syntax.GetLocation(), what, held ? "" : how, !held, held ? how : ""));
                }
        return res;
    }

    static IOperation EnclosingFunction(IOperation op)
    {
        for (var p = op.Parent; p != null; p = p.Parent)
            if (p is IAnonymousFunctionOperation || p is ILocalFunctionOperation) return p;
        return null;
    }

    // Returns (held, how). how: reason text.
    static (bool, string) Held(IOperation site, IOperation root)
    {
        IOperation cur = site;
        while (true)
        {
            var p = cur.Parent;
            switch (p)
            {
                case null: return (false, "no parent (expression statement?)");
                case IParenthesizedOperation:
                case IConversionOperation c when c.OperatorMethod == null:
                    cur = p; continue;
                case ITupleOperation:
                    cur = p; continue;
                case IConditionalOperation cond when cond.WhenTrue == cur || cond.WhenFalse == cur:
                    cur = p; continue;
                case ICoalesceOperation co when co.WhenNull == cur || co.Value == cur:
                    cur = p; continue;
                case IReturnOperation:
                    if (EnclosingFunction(p) != null) return (false, "returned from a lambda/local function");
                    return (true, "returned");
                case IUsingOperation u when u.Resources == cur: return (true, "using");
                case IVariableInitializerOperation vi:
                    {
                        var decl = vi.Parent as IVariableDeclaratorOperation;
                        if (decl == null) return (false, "initializer of ?");
                        var group = decl.Parent?.Parent;
                        if (group?.Parent is IUsingOperation || group?.Parent is IUsingDeclarationOperation) return (true, "using");
                        return LocalHeld(decl.Symbol, root);
                    }
                case IFieldInitializerOperation: return (true, "stored (field initializer)");
                case IPropertyInitializerOperation: return (true, "stored (property initializer)");
                case ISimpleAssignmentOperation a when a.Value == cur:
                    switch (a.Target)
                    {
                        case IFieldReferenceOperation f: return (true, $"stored in field {f.Field.Name}");
                        case IPropertyReferenceOperation pr: return (true, $"stored in property {pr.Property.Name}");
                        case ILocalReferenceOperation l: return LocalHeld(l.Local, root);
                        case IParameterReferenceOperation pa when pa.Parameter.RefKind != RefKind.None: return (true, "returned via ref/out parameter");
                        case IArrayElementReferenceOperation ae:
                            if (ContainerHeld(ae.ArrayReference, root) is string h1) return (true, "stored in array element; " + h1);
                            return (false, "stored in array element (array not held)");
                        default: return (false, $"assigned to {a.Target.Kind}");
                    }
                case IArgumentOperation arg:
                    {
                        var prm = arg.Parameter;
                        var callee = (p.Parent as IInvocationOperation)?.TargetMethod ?? (p.Parent as IObjectCreationOperation)?.Constructor;
                        var calleeName = callee != null ? Sig(Norm(callee)) : p.Parent?.Kind.ToString();
                        if (prm != null && StoringParams.Contains(prm.OriginalDefinition)) return (true, $"stored by {calleeName} (param {prm.Name})");
                        if (callee != null && !callee.Locations.Any(l => l.IsInSource))
                        {
                            if (callee.Name is "Add" or "Insert" or "Push" or "Enqueue" && p.Parent is IInvocationOperation ci && ContainerHeld(ci.Instance, root) is string h2)
                                return (true, $"added to collection {callee.ContainingType?.Name}; " + h2);
                            return (false, $"passed to external {callee.ContainingType?.Name}.{callee.Name}");
                        }
                        return (false, $"passed to {calleeName} (param {prm?.Name})");
                    }
                case IInvocationOperation inv when inv.Instance == cur:
                    return (false, $"receiver of {inv.TargetMethod.Name}()");
                case IPropertyReferenceOperation pr when pr.Instance == cur:
                    return (false, $"receiver of .{pr.Property.Name}");
                case IBinaryOperation b:
                    return (false, $"operand of operator {b.OperatorKind}{(b.OperatorMethod != null ? " " + Sig(Norm(b.OperatorMethod)) : "")}");
                case IArrayInitializerOperation: return (false, "element of array initializer");
                default:
                    return (false, $"used in {p.Kind}");
            }
        }
    }

    // a container (array/collection) that receives a Scalar: held if it is a field/property, or a local that is returned or stored.
    static string ContainerHeld(IOperation container, IOperation root)
    {
        switch (container)
        {
            case IFieldReferenceOperation f: return $"container field {f.Field.Name}";
            case IPropertyReferenceOperation pr: return $"container property {pr.Property.Name}";
            case ILocalReferenceOperation l:
                {
                    var (held, how) = LocalHeld(l.Local, root);
                    return held ? $"container {how}" : null;
                }
            default: return null;
        }
    }

    static (bool, string) LocalHeld(ILocalSymbol local, IOperation root)
    {
        foreach (var r in root.DescendantsAndSelf().OfType<ILocalReferenceOperation>().Where(r => SymbolEqualityComparer.Default.Equals(r.Local, local)))
        {
            var p = r.Parent;
            while (p is IConversionOperation { OperatorMethod: null } || p is IParenthesizedOperation) p = p.Parent;
            if (p is IInvocationOperation inv && inv.TargetMethod.Name == "Dispose" && inv.Instance != null) return (true, $"local {local.Name} disposed");
            if (p is IConditionalAccessOperation ca && ca.Operation == r && ca.WhenNotNull is IInvocationOperation { TargetMethod.Name: "Dispose" }) return (true, $"local {local.Name} disposed (?.)");
            if (p is IReturnOperation && EnclosingFunction(p) == null) return (true, "returned");
            if (p is ISimpleAssignmentOperation a && a.Value is { } v && (v == r || v.DescendantsAndSelf().Contains(r)) &&
                (a.Target is IFieldReferenceOperation || a.Target is IPropertyReferenceOperation)) return (true, $"local {local.Name} stored in member");
            if (p is IArgumentOperation arg && arg.Parameter != null && StoringParams.Contains(arg.Parameter.OriginalDefinition)) return (true, $"local {local.Name} stored by callee");
        }
        return (false, $"local {local.Name} never disposed");
    }

    static void ComputeStoringParams()
    {
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (var (m, list) in Bodies)
                foreach (var root in list)
                    foreach (var pr in root.DescendantsAndSelf().OfType<IParameterReferenceOperation>())
                    {
                        var prm = pr.Parameter.OriginalDefinition;
                        if (!IsScalar(prm.Type) || StoringParams.Contains(prm)) continue;
                        IOperation cur = pr;
                        var p = cur.Parent;
                        while (p is IConversionOperation { OperatorMethod: null } || p is IParenthesizedOperation || (p is ICoalesceOperation) || p is IConditionalOperation) { cur = p; p = p.Parent; }
                        bool stores = p switch
                        {
                            ISimpleAssignmentOperation a when a.Value == cur => a.Target is IFieldReferenceOperation || a.Target is IPropertyReferenceOperation,
                            IFieldInitializerOperation => true,
                            IArgumentOperation arg => arg.Parameter != null && StoringParams.Contains(arg.Parameter.OriginalDefinition),
                            _ => false
                        };
                        if (stores) { StoringParams.Add(prm); changed = true; }
                    }
        }
    }

    // ---------------- reachability ----------------
    static readonly Regex FormattingName = new(@"^(ToString|ToStringAsync|str|print|npstr|cstr|jlstr|ToNumpyString|ToCSharpString|ToJuliaString|ToMetadataString|ToStringWithOptions|Format\w*|\w*ToString\w*|\w*_str|\w*_print|\w*Print\w*|BuildRow|metastr)$");
    static bool IsFormatting(IMethodSymbol m)
    {
        var name = m.AssociatedSymbol?.Name ?? m.Name;
        return FormattingName.IsMatch(name) || FormattingName.IsMatch(m.Name);
    }

    static Dictionary<IMethodSymbol, (int d, IMethodSymbol next, Location at)> Bfs(Dictionary<IMethodSymbol, List<Site>> sitesBy,
        Dictionary<IMethodSymbol, List<IMethodSymbol>> rev, bool excludeFormatting)
    {
        var dist = new Dictionary<IMethodSymbol, (int, IMethodSymbol, Location)>(SymbolEqualityComparer.Default);
        var q = new Queue<IMethodSymbol>();
        foreach (var m in sitesBy.Keys.OrderBy(Sig))
        {
            if (excludeFormatting && IsFormatting(m)) continue;
            dist[m] = (0, null, null); q.Enqueue(m);
        }
        while (q.Count > 0)
        {
            var m = q.Dequeue();
            var d = dist[m].Item1;
            if (!rev.TryGetValue(m, out var callers)) continue;
            foreach (var c in callers.OrderBy(Sig))
            {
                if (dist.ContainsKey(c)) continue;
                if (excludeFormatting && IsFormatting(c)) continue;
                dist[c] = (d + 1, m, Calls[c][m]);
                q.Enqueue(c);
            }
        }
        return dist;
    }

    // ---------------- naming / grouping ----------------
    static bool IsPublicApi(IMethodSymbol m)
    {
        if (m.DeclaredAccessibility != Accessibility.Public) return false;
        if (m.MethodKind is MethodKind.PropertyGet or MethodKind.PropertySet && m.AssociatedSymbol is { } a && a.DeclaredAccessibility != Accessibility.Public && m.DeclaredAccessibility != Accessibility.Public) return false;
        for (var t = m.ContainingType; t != null; t = t.ContainingType)
            if (t.DeclaredAccessibility != Accessibility.Public) return false;
        return true;
    }

    static bool IsModule(INamedTypeSymbol t)
    {
        for (var b = t; b != null; b = b.BaseType)
            if (b.Name == "Module" && b.ContainingType?.Name == "nn") return true;
        return false;
    }

    static int Group(IMethodSymbol m)
    {
        var t = m.ContainingType;
        var tn = FullTypeName(t);
        if (m.MethodKind is MethodKind.UserDefinedOperator or MethodKind.Conversion) return 4;
        if (tn == "TorchSharp.torch.Tensor" && !m.IsStatic) return 0;
        if (tn == "TorchSharp.torch.nn.functional") return 2;
        if (tn.StartsWith("TorchSharp.torch") && t.IsStatic) return 1;
        if (IsModule(t) && m.Name is "forward" or "call") return 3;
        return 5;
    }

    static string GroupKey(IMethodSymbol m) => Group(m) switch
    {
        0 => "tensor-method", 1 => "torch-static", 2 => "functional", 3 => "module-forward", 4 => "operator", _ => "other"
    };

    static string GroupName(int g) => g switch
    {
        0 => "Tensor instance methods",
        1 => "torch.* static functions",
        2 => "torch.nn.functional.*",
        3 => "Modules' forward methods",
        4 => "Operators / conversions",
        _ => "Other"
    };

    static readonly SymbolDisplayFormat TypeFmt = new(typeQualificationStyle: SymbolDisplayTypeQualificationStyle.NameAndContainingTypes,
        genericsOptions: SymbolDisplayGenericsOptions.IncludeTypeParameters);
    static readonly SymbolDisplayFormat FullTypeFmt = new(typeQualificationStyle: SymbolDisplayTypeQualificationStyle.NameAndContainingTypesAndNamespaces,
        genericsOptions: SymbolDisplayGenericsOptions.IncludeTypeParameters);
    static string TypeName(INamedTypeSymbol t) => t.ToDisplayString(TypeFmt);
    static string FullTypeName(INamedTypeSymbol t) => t.ToDisplayString(FullTypeFmt);

    static string MemberName(IMethodSymbol m) => m.MethodKind switch
    {
        MethodKind.Constructor => ".ctor",
        MethodKind.StaticConstructor => ".cctor",
        MethodKind.UserDefinedOperator => "operator " + OpToken(m.Name),
        MethodKind.Conversion => $"{(m.Name == "op_Implicit" ? "implicit" : "explicit")} operator {m.ReturnType.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat)}",
        MethodKind.PropertyGet => (m.AssociatedSymbol is IPropertySymbol { IsIndexer: true } ? "this[]" : m.AssociatedSymbol?.Name) + ".get",
        MethodKind.PropertySet => (m.AssociatedSymbol is IPropertySymbol { IsIndexer: true } ? "this[]" : m.AssociatedSymbol?.Name) + ".set",
        _ => m.Name + (m.TypeParameters.Length > 0 ? "<" + string.Join(",", m.TypeParameters.Select(t => t.Name)) + ">" : "")
    };

    static string OpToken(string n) => n switch
    {
        "op_Addition" => "+", "op_Subtraction" => "-", "op_Multiply" => "*", "op_Division" => "/", "op_Modulus" => "%",
        "op_UnaryNegation" => "-(unary)", "op_UnaryPlus" => "+(unary)", "op_BitwiseAnd" => "&", "op_BitwiseOr" => "|", "op_ExclusiveOr" => "^",
        "op_LeftShift" => "<<", "op_RightShift" => ">>", "op_OnesComplement" => "~", "op_LogicalNot" => "!", "op_Equality" => "==",
        "op_Inequality" => "!=", "op_LessThan" => "<", "op_GreaterThan" => ">", "op_LessThanOrEqual" => "<=", "op_GreaterThanOrEqual" => ">=",
        _ => n
    };

    static string Params(IMethodSymbol m) => string.Join(", ", m.Parameters.Select(p =>
        (p.RefKind switch { RefKind.Ref => "ref ", RefKind.Out => "out ", RefKind.In => "in ", _ => "" }) + (p.IsParams ? "params " : "") +
        p.Type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat)));

    static string Sig(IMethodSymbol m) => $"{TypeName(m.ContainingType)}.{MemberName(m)}({Params(m)})";

    static string Loc(Location l)
    {
        if (l == null || !l.IsInSource) return "?";
        var s = l.GetLineSpan();
        return $"{Path.GetRelativePath(SrcRoot, s.Path)}:{s.StartLinePosition.Line + 1}";
    }

    static string Short(Diagnostic d) => $"{Loc(d.Location)} {d.GetMessage()}";
    static string Esc(string s) => s.Replace("|", "\\|");

    static IEnumerable<INamedTypeSymbol> AllSourceTypes(INamespaceSymbol ns)
    {
        foreach (var t in ns.GetTypeMembers()) foreach (var x in Nested(t)) yield return x;
        foreach (var n in ns.GetNamespaceMembers()) foreach (var x in AllSourceTypes(n)) yield return x;
    }
    static IEnumerable<INamedTypeSymbol> Nested(INamedTypeSymbol t)
    {
        yield return t;
        foreach (var n in t.GetTypeMembers()) foreach (var x in Nested(n)) yield return x;
    }

    static string FindSharedFramework()
    {
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet", "--list-runtimes") { RedirectStandardOutput = true };
        using var p = System.Diagnostics.Process.Start(psi);
        var lines = p.StandardOutput.ReadToEnd().Split('\n').Where(l => l.StartsWith("Microsoft.NETCore.App ")).ToList();
        p.WaitForExit();
        var last = lines.Last();
        var m = Regex.Match(last, @"^Microsoft\.NETCore\.App (\S+) \[(.+)\]");
        return Path.Combine(m.Groups[2].Value, m.Groups[1].Value);
    }

    static bool IsManaged(string dll)
    {
        try
        {
            using var fs = File.OpenRead(dll);
            using var pe = new System.Reflection.PortableExecutable.PEReader(fs);
            return pe.HasMetadata;
        }
        catch { return false; }
    }
}

using System.Collections.Immutable;
using Backprop.Functional.Generators.Diagnostics;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace Backprop.Functional.Generators;

/// <summary>Reports BPF008 where the result of <c>Trainer.Fit(…)</c> that returns a <c>TrainingRun</c> is discarded
/// (the call is a statement of its own): the run trains as it is read, so such a call trains nothing. Reading it
/// (<c>foreach</c>), calling <c>Complete()</c>, or an overload with an <c>onEpoch</c> callback trains.</summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class FitResultAnalyzer : DiagnosticAnalyzer
{
    private const string TrainerType = "Backprop.Functional.Trainer";
    private const string RunType = "Backprop.Functional.TrainingRun";

    /// <inheritdoc/>
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(Descriptors.FitResultDiscarded);

    /// <inheritdoc/>
    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(static start =>
        {
            var trainer = start.Compilation.GetTypeByMetadataName(TrainerType);
            var run = start.Compilation.GetTypeByMetadataName(RunType);
            if (trainer is null || run is null) return;
            start.RegisterOperationAction(operation => Analyze(operation, trainer, run), OperationKind.ExpressionStatement);
        });
    }

    private static void Analyze(OperationAnalysisContext context, INamedTypeSymbol trainer, INamedTypeSymbol run)
    {
        if (((IExpressionStatementOperation)context.Operation).Operation is not IInvocationOperation call) return;
        var method = call.TargetMethod;
        if (method.Name != "Fit" || !SymbolEqualityComparer.Default.Equals(method.ContainingType, trainer)
            || !SymbolEqualityComparer.Default.Equals(method.ReturnType, run)) return;
        context.ReportDiagnostic(Diagnostic.Create(Descriptors.FitResultDiscarded, call.Syntax.GetLocation()));
    }
}

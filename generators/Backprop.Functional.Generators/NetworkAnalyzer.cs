using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Backprop.Functional.Generators.Diagnostics;
using Backprop.Functional.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Backprop.Functional.Generators;

/// <summary>Reports BPF001-BPF007 and BPF009-BPF014 for [Network] types, by running the same pure <see cref="Validation.Check"/> the
/// generator runs; each problem is reported at its attribute (or at the type's name for BPF002).</summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class NetworkAnalyzer : DiagnosticAnalyzer
{
    /// <inheritdoc/>
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(
        Descriptors.SizesDoNotChain, Descriptors.NotStaticPartial, Descriptors.Unknown,
        Descriptors.LossDoesNotFit, Descriptors.NonPositiveSize, Descriptors.NoLayers, Descriptors.KindNotGenerated,
        Descriptors.UnknownOptimizer, Descriptors.ValueOutOfRange, Descriptors.NotTaken,
        Descriptors.RecurrentAfterDense, Descriptors.NoDenseHead, Descriptors.RnnActivation);

    /// <inheritdoc/>
    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(static start =>
        {
            var network = start.Compilation.GetTypeByMetadataName(NetworkGenerator.Parse.NetworkAttribute);
            if (network is null) return;
            start.RegisterSymbolAction(symbol => Analyze(symbol, network), SymbolKind.NamedType);
        });
    }

    private static void Analyze(SymbolAnalysisContext context, INamedTypeSymbol networkAttribute)
    {
        if (context.Symbol is not INamedTypeSymbol type) return;
        var network = type.GetAttributes().FirstOrDefault(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, networkAttribute));
        if (network is null) return;
        try
        {
            var model = NetworkGenerator.Parse.Read(type, network, context.CancellationToken);
            if (model is null) return;   // an attribute the compiler already reports as an error
            var dense = type.GetAttributes().Where(NetworkGenerator.Parse.IsLayer).ToList();
            foreach (var problem in Validation.Check(model))
            {
                var location = problem.Site switch
                {
                    Site.Layer when problem.Layer < dense.Count => LocationOf(dense[problem.Layer], type),
                    Site.Network => LocationOf(network, type),
                    Site.Optimizer when NetworkGenerator.Parse.OptimizerOf(type) is { } optimizer => LocationOf(optimizer, type),
                    _ => type.Locations.FirstOrDefault() ?? Location.None,
                };
                context.ReportDiagnostic(Diagnostic.Create(Descriptors.ById(problem.Id), location, problem.Arguments.Cast<object>().ToArray()));
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // never crash the compiler; the generator emits nothing for this type either
        }
    }

    private static Location LocationOf(AttributeData attribute, INamedTypeSymbol type) =>
        attribute.ApplicationSyntaxReference?.GetSyntax() is AttributeSyntax syntax
            ? syntax.GetLocation()
            : type.Locations.FirstOrDefault() ?? Location.None;
}

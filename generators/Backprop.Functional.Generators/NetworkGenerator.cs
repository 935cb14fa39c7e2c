using Backprop.Functional.Generators.Helpers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Backprop.Functional.Generators;

/// <summary>Turns a <c>[Network]</c> + <c>[Dense]</c> static partial class into constant-sized, unrolled
/// Forward/Backward/TrainStep/Predict methods over the library's kernels.</summary>
[Generator(LanguageNames.CSharp)]
public sealed partial class NetworkGenerator : IIncrementalGenerator
{
    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var models = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                Parse.NetworkAttribute,
                predicate: static (node, _) => node is ClassDeclarationSyntax,
                transform: static (ctx, ct) => Parse.Network(ctx, ct))   // null when invalid; NetworkAnalyzer says why
            .Where(static m => m is not null)
            .WithTrackingName(TrackingNames.Model);

        context.RegisterSourceOutput(models, static (spc, model) =>
            spc.AddSource(model!.FullName + ".Network.g.cs", Emit.Network(model)));
    }
}

using System.Collections.Immutable;
using System.Numerics.Tensors;
using Backprop.Functional.Generators;
using CommunityToolkit.HighPerformance.Buffers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Backprop.Functional.Generators.Tests;

/// <summary>Runs <see cref="NetworkGenerator"/> (and <see cref="NetworkAnalyzer"/>) over source text in a compilation
/// that references the library, the way a consumer's build does.</summary>
internal static class GeneratorHarness
{
    private static readonly Lazy<MetadataReference[]> References = new(() =>
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal)
                || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .Concat([typeof(Network<>).Assembly.Location, typeof(TensorPrimitives).Assembly.Location, typeof(MemoryOwner<>).Assembly.Location])
            .Distinct();
        return [.. paths.Select(p => MetadataReference.CreateFromFile(p))];
    });

    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    public static CSharpCompilation Compilation(params string[] sources) => CSharpCompilation.Create(
        "Consumer",
        sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"Source{i}.cs")),
        References.Value,
        new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver Driver(bool trackSteps = false) => CSharpGeneratorDriver.Create(
        [new NetworkGenerator().AsSourceGenerator()],
        parseOptions: ParseOptions,
        driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

    /// <summary>Generator output for <paramref name="source"/>: the generated texts, the diagnostics of the output
    /// compilation (compiler errors included) and the analyzer's diagnostics.</summary>
    public static Result Run(string source)
    {
        var input = Compilation(source);
        var driver = Driver().RunGeneratorsAndUpdateCompilation(input, out var output, out var generatorDiagnostics);
        var run = driver.GetRunResult();
        var analyzer = output.WithAnalyzers([new NetworkAnalyzer(), new FitResultAnalyzer()])
            .GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult();
        return new Result(
            [.. run.Results.SelectMany(r => r.GeneratedSources).Select(s => s.SourceText.ToString())],
            [.. generatorDiagnostics, .. output.GetDiagnostics()],
            analyzer,
            [.. run.Results.Select(r => r.Exception).OfType<Exception>()]);
    }

    internal sealed record Result(
        string[] Generated, ImmutableArray<Diagnostic> CompilationDiagnostics, ImmutableArray<Diagnostic> AnalyzerDiagnostics, Exception[] Exceptions);
}

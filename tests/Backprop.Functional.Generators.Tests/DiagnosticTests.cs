using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Xunit;

namespace Backprop.Functional.Generators.Tests;

/// <summary>One test per BPF id, its span marked <c>{|BPF00x:…|}</c> in the source (Roslyn analyzer-testing style),
/// plus: a valid declaration compiles without errors or warnings.</summary>
public sealed partial class DiagnosticTests
{
    [Fact]
    public void SizesThatDoNotChain_report_BPF001_at_the_layer() => Verify("""
        using Backprop.Functional;
        [Network]
        [Dense(4, 8, typeof(Tanh))]
        [{|BPF001:Dense(7, 2)|}]
        static partial class Net;
        """);

    [Fact]
    public void NonPartialType_reports_BPF002_at_the_name() => Verify("""
        using Backprop.Functional;
        [Network]
        [Dense(4, 2)]
        static class {|BPF002:Net|};
        """);

    [Fact]
    public void NonStaticType_reports_BPF002() => Verify("""
        using Backprop.Functional;
        [Network]
        [Dense(4, 2)]
        partial class {|BPF002:Net|};
        """);

    [Fact]
    public void UnknownActivation_reports_BPF003_at_the_layer() => Verify("""
        using Backprop.Functional;
        [Network]
        [{|BPF003:Dense(4, 2, typeof(string))|}]
        static partial class Net;
        """);

    [Fact]
    public void UnknownLoss_reports_BPF003_at_the_network() => Verify("""
        using Backprop.Functional;
        [{|BPF003:Network(Loss = typeof(ReLU))|}]
        [Dense(4, 2)]
        static partial class Net;
        """);

    [Fact]
    public void LossThatDoesNotFitTheOutput_reports_BPF004() => Verify("""
        using Backprop.Functional;
        [{|BPF004:Network(Loss = typeof(SoftmaxCrossEntropy))|}]
        [Dense(4, 2, typeof(Sigmoid))]
        static partial class Net;
        """);

    [Fact]
    public void CrossEntropyWithoutSigmoid_reports_BPF004() => Verify("""
        using Backprop.Functional;
        [{|BPF004:Network(Loss = typeof(CrossEntropy))|}]
        [Dense(4, 2, typeof(Softmax))]
        static partial class Net;
        """);

    [Fact]
    public void NonPositiveSize_reports_BPF005_at_the_layer() => Verify("""
        using Backprop.Functional;
        [Network]
        [{|BPF005:Dense(0, 2)|}]
        static partial class Net;
        """);

    [Fact]
    public void NoLayers_reports_BPF006_at_the_network() => Verify("""
        using Backprop.Functional;
        [{|BPF006:Network|}]
        static partial class Net;
        """);

    [Fact]
    public void LayerKindOtherThanDense_reports_BPF007_at_the_layer() => Verify("""
        using Backprop.Functional;
        [Network]
        [Dense(4, 8, typeof(Tanh))]
        [{|BPF007:Scale(8)|}]
        [Dense(8, 2)]
        static partial class Net;

        sealed class ScaleAttribute(int width) : LayerAttribute { public int Width { get; } = width; }
        """);

    [Fact]
    public void A_discarded_Fit_run_reports_BPF008_and_a_read_one_does_not()
    {
        var result = GeneratorHarness.Run("""
            using Backprop.Functional;
            static class Use
            {
                static void Train(Network<float> net, Dataset data, TrainingOptions options)
                {
                    Trainer.Fit(net, data, null, options);
                    Trainer.Fit(net, data, null, options).Complete();
                    foreach (var epoch in Trainer.Fit(net, data, null, options)) { }
                    using var run = Trainer.Fit(net, data, null, options);
                    Trainer.Fit(net, data, null, options, onEpoch: null);
                }
            }
            """);
        Assert.Empty(result.CompilationDiagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning));
        var diagnostic = Assert.Single(result.AnalyzerDiagnostics);
        Assert.Equal("BPF008", diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Warning, diagnostic.Severity);
        Assert.Equal(5, diagnostic.Location.GetLineSpan().StartLinePosition.Line);   // the first Fit line, 0-based
        Assert.StartsWith("The result of Trainer.Fit is discarded, so nothing trains", diagnostic.GetMessage(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Sources.MnistMlp)]
    [InlineData(Sources.Tiny)]
    [InlineData(Sources.Mix)]
    public void ValidInput_output_compilation_has_no_errors_or_warnings(string source)
    {
        var result = GeneratorHarness.Run(source);
        Assert.Empty(result.Exceptions);
        Assert.Single(result.Generated);
        Assert.Empty(result.AnalyzerDiagnostics);
        Assert.Empty(result.CompilationDiagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning));
    }

    [Fact]
    public void BrokenAttributeArguments_do_not_crash_the_generator()
    {
        var result = GeneratorHarness.Run("""
            using Backprop.Functional;
            [Network(Loss = 3)]
            [Dense("a", 2)]
            static partial class Net;
            """);
        Assert.Empty(result.Exceptions);
        Assert.Empty(result.Generated);
        Assert.Contains(result.CompilationDiagnostics, d => d.Severity == DiagnosticSeverity.Error);
    }

    private static void Verify(string markup)
    {
        var match = Markup().Match(markup);
        Assert.True(match.Success, "markup needs one {|ID:...|} span");
        string id = match.Groups["id"].Value;
        string source = markup.Remove(match.Index, match.Length).Insert(match.Index, match.Groups["text"].Value);
        var expected = new Microsoft.CodeAnalysis.Text.TextSpan(match.Index, match.Groups["text"].Value.Length);

        var result = GeneratorHarness.Run(source);
        Assert.Empty(result.Exceptions);
        Assert.Empty(result.Generated);   // invalid input ⇒ no output
        var diagnostic = Assert.Single(result.AnalyzerDiagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Equal(expected, diagnostic.Location.SourceSpan);
        Assert.DoesNotContain("{", diagnostic.GetMessage(), StringComparison.Ordinal);
    }

    [GeneratedRegex(@"\{\|(?<id>BPF\d{3}):(?<text>.*?)\|\}", RegexOptions.Singleline)]
    private static partial Regex Markup();
}

using Microsoft.CodeAnalysis;
using Xunit;

namespace Backprop.Functional.Generators.Tests;

/// <summary>The recurrent layers' chains: each bad one reported once, at its attribute, by the analyzer, and nothing
/// generated (the generator and the analyzer run the same Validation.Check).</summary>
public sealed partial class DiagnosticTests
{
    [Fact]
    public void A_dense_head_that_does_not_take_the_hidden_size_reports_BPF001_naming_both()
    {
        Verify("""
            using Backprop.Functional;
            [Network]
            [Lstm(4, 8)]
            [{|BPF001:Dense(7, 2)|}]
            static partial class Net;
            """);
        var result = GeneratorHarness.Run("""
            using Backprop.Functional;
            [Network]
            [Lstm(4, 8)]
            [Dense(7, 2)]
            static partial class Net;
            """);
        Assert.Equal("Layer 1 takes 7 inputs but layer 0 outputs 8; a layer's inputs must equal the previous layer's outputs",
            Assert.Single(result.AnalyzerDiagnostics).GetMessage());
    }

    [Fact]
    public void Stacked_recurrent_layers_that_do_not_chain_report_BPF001() => Verify("""
        using Backprop.Functional;
        [Network]
        [Gru(3, 8)]
        [{|BPF001:Lstm(6, 4)|}]
        [Dense(4, 1)]
        static partial class Net;
        """);

    [Fact]
    public void A_recurrent_layer_of_no_inputs_reports_BPF005() => Verify("""
        using Backprop.Functional;
        [Network]
        [{|BPF005:Gru(0, 4)|}]
        [Dense(4, 1)]
        static partial class Net;
        """);

    [Fact]
    public void A_recurrent_layer_after_a_dense_one_reports_BPF012() => Verify("""
        using Backprop.Functional;
        [Network]
        [Dense(4, 8, typeof(Tanh))]
        [{|BPF012:Lstm(8, 8)|}]
        [Dense(8, 1)]
        static partial class Net;
        """);

    [Fact]
    public void A_recurrent_network_without_a_dense_head_reports_BPF013() => Verify("""
        using Backprop.Functional;
        [Network]
        [Rnn(4, 6)]
        [{|BPF013:Lstm(6, 8)|}]
        static partial class Net;
        """);

    [Fact]
    public void An_Rnn_of_another_activation_reports_BPF014() => Verify("""
        using Backprop.Functional;
        [Network]
        [{|BPF014:Rnn(4, 8, typeof(Sigmoid))|}]
        [Dense(8, 1)]
        static partial class Net;
        """);

    [Fact]
    public void An_Rnn_of_an_unknown_type_reports_BPF003() => Verify("""
        using Backprop.Functional;
        [Network]
        [{|BPF003:Rnn(4, 8, typeof(string))|}]
        [Dense(8, 1)]
        static partial class Net;
        """);

    [Fact]
    public void A_valid_recurrent_declaration_compiles_without_errors_or_warnings()
    {
        var result = GeneratorHarness.Run(Sources.Recurrent);
        Assert.Empty(result.Exceptions);
        Assert.Single(result.Generated);
        Assert.Empty(result.AnalyzerDiagnostics);
        Assert.Empty(result.CompilationDiagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning));
    }
}

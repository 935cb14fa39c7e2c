using Microsoft.CodeAnalysis;
using Xunit;

namespace Backprop.Functional.Generators.Tests;

/// <summary>BPF009-BPF011: what [Optimizer] and the [Network] initialisation, seed and threads may declare.</summary>
public sealed partial class DiagnosticTests
{
    [Fact]
    public void UnknownOptimizer_reports_BPF009_at_the_optimizer() => Verify("""
        using Backprop.Functional;
        [Network]
        [{|BPF009:Optimizer(typeof(Nesterov), LearningRate = 0.1)|}]
        [Dense(4, 2)]
        static partial class Net;
        """);

    [Fact]
    public void NonOptimizerType_reports_BPF009() => Verify("""
        using Backprop.Functional;
        [Network]
        [{|BPF009:Optimizer(typeof(string))|}]
        [Dense(4, 2)]
        static partial class Net;
        """);

    [Fact]
    public void NegativeLearningRate_reports_BPF010_at_the_optimizer() => Verify("""
        using Backprop.Functional;
        [Network]
        [{|BPF010:Optimizer(typeof(Adam), LearningRate = -1e-3)|}]
        [Dense(4, 2)]
        static partial class Net;
        """);

    [Theory]
    [InlineData("Adam", "Beta1 = 1")]
    [InlineData("AdamW", "Beta2 = -0.5")]
    [InlineData("Sgd", "WeightDecay = double.NaN")]
    [InlineData("Adam", "Epsilon = double.PositiveInfinity")]
    [InlineData("Momentum", "Dampening = 1.5")]
    [InlineData("RmsProp", "Alpha = -0.1")]
    public void ValueOutOfTheRecordsRange_reports_BPF010(string optimizer, string property) => Verify($$"""
        using Backprop.Functional;
        [Network]
        [{|BPF010:Optimizer(typeof({{optimizer}}), {{property}})|}]
        [Dense(4, 2)]
        static partial class Net;
        """);

    [Fact]
    public void ZeroThreads_reports_BPF010_at_the_network() => Verify("""
        using Backprop.Functional;
        [{|BPF010:Network(Threads = 0)|}]
        [Dense(4, 2)]
        static partial class Net;
        """);

    [Fact]
    public void UndefinedInitialization_reports_BPF010_at_the_network() => Verify("""
        using Backprop.Functional;
        [{|BPF010:Network(Initialization = (Initialization)42)|}]
        [Dense(4, 2)]
        static partial class Net;
        """);

    [Fact]
    public void PropertyTheOptimizerDoesNotTake_reports_BPF011() => Verify("""
        using Backprop.Functional;
        [Network]
        [{|BPF011:Optimizer(typeof(Sgd), LearningRate = 0.1, Beta1 = 0.9)|}]
        [Dense(4, 2)]
        static partial class Net;
        """);

    [Fact]
    public void A_full_declaration_compiles_without_diagnostics_and_emits_the_declared_members()
    {
        var result = GeneratorHarness.Run("""
            using Backprop.Functional;
            [Network(Loss = typeof(Quadratic), Initialization = Initialization.He, Seed = 42, Threads = 2)]
            [Optimizer(typeof(Adam), LearningRate = 1e-3, Beta2 = 0.99, Epsilon = 1e-7)]
            [Dense(4, 2, typeof(Tanh))]
            static partial class Net;
            """);
        Assert.Empty(result.Exceptions);
        Assert.Empty(result.AnalyzerDiagnostics);
        Assert.Empty(result.CompilationDiagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning));
        string generated = Assert.Single(result.Generated);
        Assert.Contains("s_optimizer = new global::Backprop.Functional.Adam(LearningRate: 0.001, Beta2: 0.99, Epsilon: 1E-07);", generated, StringComparison.Ordinal);
        Assert.Contains("global::Backprop.Functional.Initialization.He, 42L);", generated, StringComparison.Ordinal);
        Assert.Contains("public const int WorkspaceThreads = 2;", generated, StringComparison.Ordinal);
        Assert.Contains("OnlineAdam<T>(theta, x, y, ws, s_optimizer, ref state, buffers,", generated, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Momentum", "Mu = 0.9, Dampening = 0.1", false)]
    [InlineData("RmsProp", "Alpha = 0.9, Centered = true, Mu = 0.5", false)]
    [InlineData("Sgd", "WeightDecay = 0.01", true)]
    [InlineData("AdamW", "Amsgrad = true", true)]
    [InlineData("Adam", "Amsgrad = true", true)]
    public void Every_known_optimizer_compiles_and_TrainOnline_exists_only_where_it_fuses(string optimizer, string properties, bool online)
    {
        var result = GeneratorHarness.Run($$"""
            using Backprop.Functional;
            [Network]
            [Optimizer(typeof({{optimizer}}), LearningRate = 0.01, {{properties}})]
            [Dense(4, 2, typeof(Tanh))]
            static partial class Net;
            """);
        Assert.Empty(result.AnalyzerDiagnostics);
        Assert.Empty(result.CompilationDiagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning));
        string generated = Assert.Single(result.Generated);
        Assert.Contains("global::Backprop.Functional." + optimizer + ".Update<T>(s_optimizer,", generated, StringComparison.Ordinal);
        Assert.Equal(online, generated.Contains("ws, ref global::Backprop.Functional.OptimizerState state", StringComparison.Ordinal)
            && generated.Contains("TrainOnline<T>(global::System.Span<T> theta, global::System.ReadOnlySpan<T> x, global::System.ReadOnlySpan<T> y, global::Backprop.Functional.Workspace<T> ws, ref", StringComparison.Ordinal));
    }
}

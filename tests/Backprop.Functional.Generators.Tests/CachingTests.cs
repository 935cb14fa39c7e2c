using Backprop.Functional.Generators.Helpers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace Backprop.Functional.Generators.Tests;

/// <summary>An unrelated edit re-runs nothing: the model step's outputs come from the cache.</summary>
public sealed class CachingTests
{
    [Fact]
    public void UnrelatedEdit_leaves_model_step_cached()
    {
        var compilation = GeneratorHarness.Compilation(Sources.MnistMlp, Sources.Tiny);
        var driver = GeneratorHarness.Driver(trackSteps: true).RunGenerators(compilation);

        var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText(
            "namespace Other; public static class Unrelated { public const int X = 1; }", GeneratorHarness.ParseOptions));
        driver = driver.RunGenerators(edited);

        var result = Assert.Single(driver.GetRunResult().Results);
        Assert.Equal(2, result.GeneratedSources.Length);
        var steps = result.TrackedSteps[TrackingNames.Model];
        Assert.NotEmpty(steps);
        var reasons = steps.SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
        Assert.NotEmpty(reasons);
        Assert.All(reasons, r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"reason {r}"));
        Assert.All(result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs),
            o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }
}

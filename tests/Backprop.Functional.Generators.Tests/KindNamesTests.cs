using System.Reflection;
using System.Text;
using Xunit;

namespace Backprop.Functional.Generators.Tests;

/// <summary>The generator validates kinds with the library's own KindNames.cs (compiled into it): the names it knows
/// are the enums' names, and BPF004 fires exactly where <see cref="NetworkSpec"/> refuses the pair, with its reason.</summary>
public sealed class KindNamesTests
{
    [Fact]
    public void The_generator_knows_exactly_the_library_kind_names()
    {
        // Through reflection: this project sees the library's internals too, so the name KindNames is ambiguous here.
        Type names = typeof(NetworkGenerator).Assembly.GetType("Backprop.Functional.KindNames", throwOnError: true)!;
        string[] Field(string name) => (string[])names.GetField(name, BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;

        Assert.Equal(Enum.GetNames<ActivationKind>(), Field("Activations"));
        Assert.Equal(Enum.GetNames<LossKind>(), Field("Losses"));
    }

    [Fact]
    public void BPF004_fires_exactly_for_the_pairs_the_runtime_refuses_with_its_reason()
    {
        var pairs = (from loss in Enum.GetValues<LossKind>() from output in Enum.GetValues<ActivationKind>() select (loss, output)).ToArray();
        var source = new StringBuilder("using Backprop.Functional;\n");
        foreach (var (loss, output) in pairs)   // one network per line: a diagnostic's line says which pair it is
            source.Append($"[Network(Loss = typeof({loss}))][Dense(3, 3, typeof({output}))] static partial class {loss}With{output};\n");

        var result = GeneratorHarness.Run(source.ToString());

        Assert.Empty(result.Exceptions);
        var reported = result.AnalyzerDiagnostics.ToDictionary(d => d.Location.GetLineSpan().StartLinePosition.Line - 1);
        Assert.All(reported.Values, d => Assert.Equal("BPF004", d.Id));
        for (int i = 0; i < pairs.Length; i++)
        {
            var (loss, output) = pairs[i];
            bool fits = LossDispatch.Fits(loss, output);
            Assert.True(fits != reported.ContainsKey(i), $"{loss} with {output}: runtime fits = {fits}, BPF004 reported = {reported.ContainsKey(i)}");
            if (fits) continue;
            var e = Assert.Throws<ArgumentException>(() => new NetworkSpec([new Dense(3, 3, output)], loss));
            Assert.Contains(reported[i].GetMessage(System.Globalization.CultureInfo.InvariantCulture)[1..], e.Message, StringComparison.Ordinal);
        }
    }
}

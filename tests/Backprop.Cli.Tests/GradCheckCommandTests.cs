using Backprop.Functional;
using Xunit;

namespace Backprop.Cli.Tests;

/// <summary><c>backprop gradcheck</c>: the passes each method makes are counted at the calls (the cost the stencils
/// are handed counts its own calls; backprop's forward and backward passes count theirs) and must be exactly the
/// notes' N + 1, 2N, 4N and 1 + 1; in double the stencils agree with backprop to their orders.</summary>
public class GradCheckCommandTests
{
    [Theory]
    [InlineData(new[] { 4, 8, 3 }, ActivationKind.Tanh)]
    [InlineData(new[] { 3, 5, 6, 2 }, ActivationKind.Sigmoid)]
    [InlineData(new[] { 6, 1, 4 }, ActivationKind.GELU)]
    public void Counts_are_exactly_N_plus_1_2N_4N_and_1_plus_1_and_errors_are_small_in_double(int[] widths, ActivationKind hidden)
    {
        var m = GradCheckCommand.Measure(widths, hidden, batch: 5, seed: 3, minSeconds: 0);
        long n = m.Parameters;
        Assert.Equal(GradCheckCommand.Count(widths), n);
        Assert.Equal(["backprop", "forward", "central", "five-point"], m.Methods.Select(r => r.Name));

        var backprop = m.Methods[0];
        Assert.Equal((1L, 1L), (backprop.ForwardPasses, backprop.BackwardPasses));
        Assert.Equal("1 + 1", backprop.Evaluations);
        Assert.Equal((n + 1, 0L), (m.Methods[1].ForwardPasses, m.Methods[1].BackwardPasses));
        Assert.Equal((2 * n, 0L), (m.Methods[2].ForwardPasses, m.Methods[2].BackwardPasses));
        Assert.Equal((4 * n, 0L), (m.Methods[3].ForwardPasses, m.Methods[3].BackwardPasses));

        Assert.Equal(widths.Length * 2 - 2, m.Methods[1].Errors.Count);   // a weight and a bias per layer
        Assert.True(m.Methods[1].MaxRelativeError < 1e-3, $"forward {m.Methods[1].MaxRelativeError:E2}");
        Assert.True(m.Methods[2].MaxRelativeError < 1e-6, $"central {m.Methods[2].MaxRelativeError:E2}");
        Assert.True(m.Methods[3].MaxRelativeError < 1e-7, $"five-point {m.Methods[3].MaxRelativeError:E2}");
        Assert.All(m.Methods, r => Assert.True(r.Seconds > 0 && r.Repeats >= 5, $"{r.Name}: {r.Seconds} s, {r.Repeats} runs"));
    }

    [Fact]
    public void The_command_prints_errors_counts_and_times_and_writes_the_plot()
    {
        using var dir = new TempDir();
        string png = dir["sub/gc.png"];
        var r = Cli.Run("gradcheck", "--layers", "4-8-3", "--sizes", "2,6", "--batch", "4", "--out", png);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("N = 67 parameters", r.Out, StringComparison.Ordinal);
        Assert.Contains("layers.0.weight", r.Out, StringComparison.Ordinal);
        // 4-2-3: N = 19; 4-6-3: N = 51.
        Assert.Matches(@"4-2-3\s+19\s+1 \+ 1\s+20\s+38\s+76", r.Out);
        Assert.Matches(@"4-6-3\s+51\s+1 \+ 1\s+52\s+102\s+204", r.Out);
        Assert.Contains("wall time per gradient", r.Out, StringComparison.Ordinal);
        string written = File.Exists(png) ? png : Path.ChangeExtension(png, ".svg");
        Assert.True(new FileInfo(written).Length > 1000, r.ToString());
        Assert.Contains($"plot saved to {written}", r.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--layers", "4-3")]
    [InlineData("--layers", "4-x-3")]
    [InlineData("--sizes", "2,0")]
    [InlineData("--sizes", "100000")]
    [InlineData("--activation", "softmax")]
    [InlineData("--batch", "0")]
    public void Bad_options_are_usage_errors(string option, string value)
    {
        using var dir = new TempDir();
        var r = Cli.Run("gradcheck", option, value, "--out", dir["g.png"]);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.StartsWith("backprop: ", r.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(dir["g.png"]));
    }

    [Fact]
    public void A_network_past_the_limit_is_refused_naming_its_size()
    {
        var r = Cli.Run("gradcheck", "--layers", "100-10-10", "--sizes", "1000");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("100-1000-10 has 111,010 parameters", r.Error, StringComparison.Ordinal);
    }
}

using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>BPTT against central finite differences, in double: every parameter of every cell (weights, biases, a
/// learned h₀/c₀), the cell's ∂C/∂x (through a per-step dense layer in front of it), and ∂C/∂h₀ (∂C/∂c₀) of a carried
/// state, over random kinds, sizes, depths 1–2, lengths 1–12 differing within the batch, heads on the last state or
/// at every step.</summary>
public class RecurrentGradientProperties
{
    // |error| / max(|a|, |b|, Floor · max(1, |C|)): a central difference's rounding error is about ε·|C|/h, so the floor
    // under which an entry is compared absolutely grows with the cost (a quadratic cost of 10 makes it 2e-10 at h = 1e-5).
    // ∂C/∂θ's Richardson stencil steps by RichardsonStep = 1e-4: its error is h⁴·C⁽⁵⁾/30, so the larger step costs it
    // nothing and cuts the rounding tenfold (at 1e-5 a GRU case's 8.4e-5 entry was 1.1e-10 off, the costs' rounding:
    // 1.03e-6 against the floor, and well inside it at 3e-5 and 1e-4). ∂C/∂h₀'s plain central difference keeps Step.
    private const double Tolerance = 1e-6, Floor = 1e-4, Step = 1e-5, RichardsonStep = 1e-4;

    [Property(MaxTest = 200, Arbitrary = [typeof(RecurrentArbitraries)])]
    public Property Gradient_equals_central_differences(RecurrentCase c) => GradientMatches(c);

    /// <summary>The case a fresh-clone CI run drew (two tanh RNN layers, lengths 7 and 8): with the plain central
    /// difference its 3.8e-4 bias entry was 3e-6 off, the stencil's h² error; it passes with the Richardson form.</summary>
    [Property(MaxTest = 1, Replay = "8775502333635321258,3316297785038612913,100", Arbitrary = [typeof(RecurrentArbitraries)])]
    public Property Gradient_equals_central_differences_on_the_case_CI_drew(RecurrentCase c) => GradientMatches(c);

    private static Property GradientMatches(RecurrentCase c)
    {
        using var net = c.Network();
        using var ws = c.Workspace(net);
        using var g = net.CreateGradient();
        double[] x = c.X(), y = c.Y();
        c.SeedCarried(net.Spec, ws);
        string kinks = Kinks(c, net, ws, x);
        net.Forward(x, ws);
        double cost = net.Backward(x, y, ws, g.Span);
        double[] backprop = g.Span.ToArray();
        var theta = net.Parameters;
        bool crossed = false;
        var fd = new double[theta.Length];
        for (int i = 0; i < theta.Length; i++)
        {
            double saved = theta[i];
            theta[i] = saved + RichardsonStep;
            double plus = net.Cost(x, y, ws);
            crossed |= Kinks(c, net, ws, x) != kinks;
            theta[i] = saved - RichardsonStep;
            double minus = net.Cost(x, y, ws);
            crossed |= Kinks(c, net, ws, x) != kinks;
            theta[i] = saved + 2 * RichardsonStep;
            double plusTwo = net.Cost(x, y, ws);
            crossed |= Kinks(c, net, ws, x) != kinks;
            theta[i] = saved - 2 * RichardsonStep;
            double minusTwo = net.Cost(x, y, ws);
            crossed |= Kinks(c, net, ws, x) != kinks;
            theta[i] = saved;
            // Richardson: (4·D(h) − D(2h))/3 cancels the central difference's h²/6·∂³C/∂θ³, which reached 1.2e-9 on a
            // 3.8e-4 bias entry of a two-layer tanh RNN (the case CI drew, below): 3e-6 relative, the stencil's error, not
            // backprop's. The rounding error is about ε·|C|/h, what Floor is sized for.
            fd[i] = (4 * (plus - minus) / (2 * RichardsonStep) - (plusTwo - minusTwo) / (4 * RichardsonStep)) / 3;
        }
        if (crossed) return true.When(false);   // a ReLU's kink inside the stencil: the derivative is not defined there
        var (err, at) = MaxError(fd, backprop, Floor * Math.Max(1, Math.Abs(cost)));
        return (err <= Tolerance).Label(
            $"∂C/∂θ: relative error {err:E2} at {(at >= 0 ? net.Layout.SlotOf(at).Name : "")}[{at}]: backprop {(at >= 0 ? backprop[at] : 0):G12}, central difference {(at >= 0 ? fd[at] : 0):G12}");
    }

    [Property(MaxTest = 120, Arbitrary = [typeof(RecurrentArbitraries)])]
    public Property Initial_state_gradient_equals_central_differences(RecurrentCase c)
    {
        c = c with { Initial = InitialState.Carried };
        using var net = c.Network();
        using var ws = c.Workspace(net);
        using var g = net.CreateGradient();
        double[] x = c.X(), y = c.Y();
        c.SeedCarried(net.Spec, ws);
        string kinks = Kinks(c, net, ws, x);
        var spec = net.Spec;
        int layer = c.FirstCell;
        bool crossed = false;
        var labels = new List<string>();
        double worst = 0;
        foreach (bool cell in c.Cell == "lstm" ? new[] { false, true } : [false])
        {
            net.Forward(x, ws);
            double cost = net.Backward(x, y, ws, g.Span);
            double[] backprop = Functional.Recurrent.InitialStateGradient(spec, ws, layer, c.Batch, cell).ToArray();
            var fd = new double[backprop.Length];
            for (int i = 0; i < fd.Length; i++)
            {
                var s = Functional.Recurrent.InitialState(spec, ws, layer, c.Batch, cell);
                double saved = s[i];
                s[i] = saved + Step;
                double plus = net.Cost(x, y, ws);
                crossed |= Kinks(c, net, ws, x) != kinks;
                Functional.Recurrent.InitialState(spec, ws, layer, c.Batch, cell)[i] = saved - Step;
                double minus = net.Cost(x, y, ws);
                crossed |= Kinks(c, net, ws, x) != kinks;
                Functional.Recurrent.InitialState(spec, ws, layer, c.Batch, cell)[i] = saved;
                fd[i] = (plus - minus) / (2 * Step);
            }
            var (err, at) = MaxError(fd, backprop, Floor * Math.Max(1, Math.Abs(cost)));
            worst = Math.Max(worst, err);
            labels.Add($"∂C/∂{(cell ? "c" : "h")}₀: relative error {err:E2} at {at}: backprop {(at >= 0 ? backprop[at] : 0):G12}, central difference {(at >= 0 ? fd[at] : 0):G12}");
        }
        if (crossed) return true.When(false);
        return (worst <= Tolerance).Label(string.Join("; ", labels));
    }

    /// <summary>Padding never changes a result: other values at the padded steps give the same output, cost and
    /// gradient, bit for bit.</summary>
    [Property(MaxTest = 100, Arbitrary = [typeof(RecurrentArbitraries)])]
    public Property Padding_never_changes_a_result(RecurrentCase c)
    {
        if (c.Lengths.Length == 0) return true.When(false);
        using var net = c.Network();
        using var ws = c.Workspace(net);
        using var g1 = net.CreateGradient();
        using var g2 = net.CreateGradient();
        double[] x = c.X(), y = c.Y(), x2 = (double[])x.Clone(), y2 = (double[])y.Clone();
        var rng = new SeededRandom(c.Seed + 9);
        for (int r = 0; r < c.Batch; r++)
            for (int t = c.Lengths[r]; t < c.Time; t++)
            {
                for (int i = 0; i < c.Inputs; i++) x2[(r * c.Time + t) * c.Inputs + i] = 10 * rng.NextDouble() - 5;
                if (c.PerStep)
                {
                    var row = y2.AsSpan((r * c.Time + t) * c.Outputs, c.Outputs);
                    row.Clear();
                    row[(int)(rng.NextDouble() * c.Outputs) % c.Outputs] = 1;
                }
            }
        c.SeedCarried(net.Spec, ws);
        double[] out1 = net.Forward(x, ws).ToArray();
        double cost1 = net.Backward(x, y, ws, g1.Span);
        c.SeedCarried(net.Spec, ws);
        double[] out2 = net.Forward(x2, ws).ToArray();
        double cost2 = net.Backward(x2, y2, ws, g2.Span);
        // a per-step head's outputs at padded steps are the head applied to 0 for both inputs, so all outputs compare
        return (cost1 == cost2 && g1.Span.SequenceEqual(g2.Span) && out1.AsSpan().SequenceEqual(out2)).Label($"cost {cost1:R} vs {cost2:R}");
    }

    /// <summary>The pattern of a ReLU RNN's active units: finite differences are only valid when no stencil point
    /// crosses a kink.</summary>
    private static string Kinks(RecurrentCase c, Network<double> net, Workspace<double> ws, double[] x)
    {
        if (c.Cell != "rnn-relu") return "";
        net.Forward(x, ws);
        var sb = new System.Text.StringBuilder();
        for (int l = 0; l < net.Spec.Layers.Count; l++)
            if (net.Spec.Layers[l] is Rnn rnn)   // its scratch starts with x [time × rows × I], then hₜ = φ(…) [time × rows × H]
                foreach (double v in ws.Scratch(l, c.Batch).Slice(c.Time * c.Batch * rnn.Inputs, c.Time * c.Batch * rnn.Hidden)) sb.Append(v > 0 ? '+' : '-');
        return sb.ToString();
    }

    private static (double Error, int Index) MaxError(double[] expected, double[] actual, double floor)
    {
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = Math.Abs(expected[i] - actual[i]) / Math.Max(Math.Max(Math.Abs(expected[i]), Math.Abs(actual[i])), floor);
            if (e > worst || double.IsNaN(e)) { worst = double.IsNaN(e) ? double.PositiveInfinity : e; at = i; }
        }
        return (worst, at);
    }
}

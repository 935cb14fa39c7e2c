using Xunit;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>Truncated BPTT on a tiny stream of 6 steps, against the windows computed one by one with the plain
/// forward and backward passes: window 0 is steps [0, k₂) with every loss counted; window w ≥ 1 is steps
/// [w·k₁, w·k₁ + k₂) counting only the losses of its last k₁ steps (<see cref="Workspace{T}.LossFrom"/>), entered with
/// the state after step w·k₁ — taken here from a separate forward pass over steps [0, w·k₁) from zero, not from
/// <see cref="Functional.Recurrent.CarryOver"/>. Every cell kind, one layer and two stacked, k₁ = k₂ = 2 (three disjoint
/// windows) and k₁ = 2, k₂ = 4 (two overlapping ones).</summary>
public class TruncatedBpttTests
{
    private const int Time = 6;

    /// <summary>Relative to the larger magnitude, with this floor under it. Measured: 0 (every comparison exact).</summary>
    private const double Tolerance = 1e-14, Floor = 1e-12;

    public static TheoryData<string, int, int, int> Cases()
    {
        var data = new TheoryData<string, int, int, int>();
        foreach (string cell in new[] { "rnn-tanh", "lstm", "gru" })
            foreach (int depth in new[] { 1, 2 })
            {
                data.Add(cell, depth, 2, 2);
                data.Add(cell, depth, 2, 4);
            }
        return data;
    }

    private static RecurrentCase Case(string cell, int depth) =>
        new(cell, Inputs: 2, Hidden: 3, Outputs: 3, depth, InputLayer: false, PerStep: true, InitialState.Carried,
            Batch: 2, Time, [], Seed: 17 + depth);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gradient_equals_the_sum_of_the_windows_computed_by_hand(string cell, int depth, int k1, int k2)
    {
        var c = Case(cell, depth);
        var truncation = new Truncation(k1, k2);
        using var net = c.Network();
        double[] x = c.X(), y = c.Y();
        var windows = HandWindows(c, net, x, y, truncation);
        Assert.Equal(truncation.Windows(Time), windows.Count);

        var sum = new double[net.Layout.Count];
        double cost = 0;
        foreach (var (windowCost, gradient) in windows)
        {
            cost += windowCost;
            for (int i = 0; i < sum.Length; i++) sum[i] += gradient[i];
        }
        var bptt = new double[net.Layout.Count];
        double bpttCost = Bptt.Gradient<double>(net, x, y, Time, truncation, bptt);

        AssertClose(cost, bpttCost, "cost");
        AssertClose(sum, bptt, net, "Σ window gradients vs Bptt.Gradient");
        // Not a full BPTT gradient in disguise: truncation changes it.
        var fullGradient = new double[net.Layout.Count];
        Bptt.Gradient<double>(net, x, y, Time, Truncation.Of(Time), fullGradient);
        Assert.True(MaxError(fullGradient, bptt) > 1e-6, "the truncated gradient equals the full one: the case tests nothing");
    }

    /// <summary><see cref="Bptt.Step{T}"/> over the stream, with Sgd at learning rate 0 so θ stays put: each window's
    /// gradient and cost are the hand-computed window's, and the state it carries into the next window is the state a
    /// forward pass over the concatenated steps has at that boundary (step (w + 1)·k₁).</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Step_over_a_stream_carries_the_state_of_a_forward_pass_over_the_whole_stream(string cell, int depth, int k1, int k2)
    {
        var c = Case(cell, depth);
        var truncation = new Truncation(k1, k2);
        using var net = c.Network();
        double[] theta = net.Parameters.ToArray();
        double[] x = c.X(), y = c.Y();
        var hand = HandWindows(c, net, x, y, truncation);
        var spec = net.Spec;
        using var train = new TrainState<double>(net, new Sgd(0), c.Batch, threads: 1, time: k2);
        Functional.Recurrent.ResetState(spec, train.Workspace, c.Batch);
        for (int w = 0; w < hand.Count; w++)
        {
            double cost = Bptt.Step<double>(net, Steps(x, c, c.Inputs, w * k1, k2), Steps(y, c, c.Outputs, w * k1, k2), train, truncation, w);
            AssertClose(hand[w].Cost, cost, $"window {w} cost");
            AssertClose(hand[w].Gradient, train.Gradient.Span.ToArray(), net, $"window {w} gradient");
            int boundary = (w + 1) * k1;
            foreach (var (layer, isCell, expected) in StateAfter(c, net, x, boundary))
                AssertClose(expected, Functional.Recurrent.InitialState(spec, train.Workspace, layer, c.Batch, isCell).ToArray(), null,
                    $"{(isCell ? "c" : "h")} of layer {layer} carried out of window {w} (step {boundary})");
        }
        Assert.True(net.Parameters.SequenceEqual(theta), "Sgd(0) moved θ");
    }

    /// <summary>Which losses reach a window: changing the targets that window 1 does not count — steps 0–1 with
    /// k = 2 (before its start), steps 2–3 with k₁ = 2, k₂ = 4 (inside it, before its last k₁ steps) — leaves window
    /// 1's gradient and cost unchanged, bit for bit, while window 0's change.</summary>
    [Theory]
    [InlineData("rnn-tanh", 2, 2)]
    [InlineData("lstm", 2, 2)]
    [InlineData("gru", 2, 2)]
    [InlineData("rnn-tanh", 2, 4)]
    [InlineData("lstm", 2, 4)]
    [InlineData("gru", 2, 4)]
    public void Losses_a_window_does_not_count_do_not_reach_its_gradient(string cell, int k1, int k2)
    {
        var c = Case(cell, 1);
        var truncation = new Truncation(k1, k2);
        using var net = c.Network();
        double[] x = c.X(), y = c.Y(), changed = (double[])y.Clone();
        int from = k2 - k1;   // window 1 counts steps k₂ … k₁ + k₂ − 1: change steps from … from + k₁ − 1 before them
        for (int r = 0; r < c.Batch; r++)
            for (int t = from; t < from + k1; t++)
            {
                var row = changed.AsSpan((r * Time + t) * c.Outputs, c.Outputs);
                int hot = row.IndexOf(1.0);
                row.Clear();
                row[(hot + 1) % c.Outputs] = 1;
            }

        var (cost0, gradient0, cost1, gradient1) = TwoWindows(net, c, x, y, truncation);
        var (cost0Changed, gradient0Changed, cost1Changed, gradient1Changed) = TwoWindows(net, c, x, changed, truncation);

        Assert.True(cost0 != cost0Changed && MaxError(gradient0, gradient0Changed) > 1e-6, "window 0 does not see the changed targets");
        Assert.Equal(cost1, cost1Changed);
        int at = TruncatedBpttProperties.FirstDifference(gradient1, gradient1Changed);
        Assert.True(at < 0, $"window 1's ∂C/∂θ[{at}] changed with targets it does not count: {gradient1[Math.Max(at, 0)]:R} vs {gradient1Changed[Math.Max(at, 0)]:R}");
    }

    private static (double, double[], double, double[]) TwoWindows(Network<double> net, RecurrentCase c, double[] x, double[] y, Truncation truncation)
    {
        using var train = new TrainState<double>(net, new Sgd(0), c.Batch, threads: 1, time: truncation.K2);
        Functional.Recurrent.ResetState(net.Spec, train.Workspace, c.Batch);
        double cost0 = Bptt.Step<double>(net, Steps(x, c, c.Inputs, 0, truncation.K2), Steps(y, c, c.Outputs, 0, truncation.K2), train, truncation, 0);
        double[] gradient0 = train.Gradient.Span.ToArray();
        int start = truncation.K1;
        double cost1 = Bptt.Step<double>(net, Steps(x, c, c.Inputs, start, truncation.K2), Steps(y, c, c.Outputs, start, truncation.K2), train, truncation, 1);
        return (cost0, gradient0, cost1, train.Gradient.Span.ToArray());
    }

    /// <summary>Each window's mean counted cost and gradient, computed with a fresh workspace of k₂ steps: the state
    /// set from <see cref="StateAfter"/>, <see cref="Workspace{T}.LossFrom"/> = k₂ − k₁ after window 0.</summary>
    private static List<(double Cost, double[] Gradient)> HandWindows(RecurrentCase c, Network<double> net, double[] x, double[] y, Truncation truncation)
    {
        int k1 = truncation.K1, k2 = truncation.K2;
        var windows = new List<(double, double[])>();
        for (int start = 0; start + k2 <= Time; start += k1)
        {
            using var ws = net.CreateWorkspace(c.Batch, 1, k2);
            Functional.Recurrent.ResetState(net.Spec, ws, c.Batch);
            foreach (var (layer, isCell, state) in StateAfter(c, net, x, start))
                state.CopyTo(Functional.Recurrent.InitialState(net.Spec, ws, layer, c.Batch, isCell));
            ws.LossFrom = start == 0 ? 0 : k2 - k1;
            using var g = net.CreateGradient();
            double cost = net.ValueAndGradient(Steps(x, c, c.Inputs, start, k2), Steps(y, c, c.Outputs, start, k2), ws, g.Span);
            windows.Add((cost, g.Span.ToArray()));
        }
        return windows;
    }

    /// <summary>Every recurrent layer's h (and an LSTM's c) after <paramref name="steps"/> steps of a forward pass from
    /// zero over the stream's first steps (none when <paramref name="steps"/> is 0: the state is zero).</summary>
    private static List<(int Layer, bool Cell, double[] State)> StateAfter(RecurrentCase c, Network<double> net, double[] x, int steps)
    {
        var states = new List<(int, bool, double[])>();
        if (steps == 0) return states;
        using var ws = net.CreateWorkspace(c.Batch, 1, steps);
        Functional.Recurrent.ResetState(net.Spec, ws, c.Batch);
        net.Forward(Steps(x, c, c.Inputs, 0, steps), ws);
        for (int l = 0; l < net.Spec.Layers.Count; l++)
        {
            if (net.Spec.Layers[l] is Dense) continue;
            states.Add((l, false, Functional.Recurrent.FinalState(net.Spec, ws, l, c.Batch).ToArray()));
            if (net.Spec.Layers[l] is Lstm) states.Add((l, true, Functional.Recurrent.FinalState(net.Spec, ws, l, c.Batch, cell: true).ToArray()));
        }
        return states;
    }

    /// <summary>Steps [start, start + count) of every row of a [batch × time × width] array.</summary>
    private static double[] Steps(double[] v, RecurrentCase c, int width, int start, int count)
    {
        var part = new double[c.Batch * count * width];
        for (int r = 0; r < c.Batch; r++)
            v.AsSpan((r * Time + start) * width, count * width).CopyTo(part.AsSpan(r * count * width));
        return part;
    }

    private static double MaxError(double[] expected, double[] actual)
    {
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = Math.Abs(expected[i] - actual[i]) / Math.Max(Math.Max(Math.Abs(expected[i]), Math.Abs(actual[i])), Floor);
            worst = double.IsNaN(e) ? double.PositiveInfinity : Math.Max(worst, e);
        }
        return worst;
    }

    private static void AssertClose(double expected, double actual, string what) =>
        Assert.True(MaxError([expected], [actual]) <= Tolerance, $"{what}: {actual:R}, expected {expected:R}");

    private static void AssertClose(double[] expected, double[] actual, Network<double>? net, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double err = MaxError(expected, actual);
        if (err <= Tolerance) return;
        int at = 0;
        for (int i = 1; i < expected.Length; i++)
            if (Math.Abs(expected[i] - actual[i]) > Math.Abs(expected[at] - actual[at])) at = i;
        Assert.Fail($"{what}: relative error {err:E2}; at [{at}]{(net is null ? "" : " (" + net.Layout.SlotOf(at).Name + ")")} {actual[at]:R}, expected {expected[at]:R}");
    }
}

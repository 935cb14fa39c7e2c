using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>A streaming network (<see cref="RecurrentCase"/> with carried state and a softmax head at every step, full
/// length sequences) and a truncation whose k₂ covers the whole sequence.</summary>
public sealed record WholeWindowCase(RecurrentCase Case, int K1, int K2)
{
    public override string ToString() => $"{Case}, k₁ = {K1}, k₂ = {K2}";
}

public static class WholeWindowArbitraries
{
    public static Arbitrary<WholeWindowCase> WholeWindowCase() =>
        (from cell in Gen.Elements("rnn-tanh", "lstm", "gru")
         from inputs in Gen.Choose(1, 4)
         from hidden in Gen.Choose(1, 5)
         from outputs in Gen.Choose(2, 3)
         from depth in Gen.Choose(1, 2)
         from inputLayer in Gen.Elements(false, true)
         from batch in Gen.Choose(1, 3)
         from time in Gen.Choose(1, 10)
         from extra in Gen.Choose(0, 3)
         from k1 in Gen.Choose(1, time + extra)
         from seed in Gen.Choose(0, 1_000_000)
         select new WholeWindowCase(
             new RecurrentCase(cell, inputs, hidden, outputs, depth, inputLayer, PerStep: true, InitialState.Carried, batch, time, [], seed),
             k1, time + extra)).ToArbitrary();
}

/// <summary>Truncated BPTT whose window covers the whole sequence is full BPTT: <see cref="Bptt.Gradient{T}"/> with
/// k₂ ≥ time (k₁ = k₂ = k, and any k₁ ≤ k₂) gives the cost and ∂C/∂θ of <see cref="Network{T}.ValueAndGradient"/> on a
/// workspace of that time with the state reset to zero, bit for bit (up to the sign of a zero: the window sum starts
/// from +0).</summary>
public class TruncatedBpttProperties
{
    [Property(MaxTest = 150, Arbitrary = [typeof(WholeWindowArbitraries)])]
    public Property Bptt_with_a_window_covering_the_sequence_equals_full_bptt_exactly(WholeWindowCase w)
    {
        var c = w.Case;
        using var net = c.Network();
        double[] x = c.X(), y = c.Y();
        using var ws = net.CreateWorkspace(c.Batch, 1, c.Time);
        Functional.Recurrent.ResetState(net.Spec, ws, c.Batch);
        using var full = net.CreateGradient();
        double cost = net.ValueAndGradient(x, y, ws, full.Span);

        var labels = new List<string>();
        foreach (var truncation in new[] { Truncation.Of(w.K2), new Truncation(w.K1, w.K2) })
        {
            var bptt = new double[net.Layout.Count];
            Array.Fill(bptt, double.NaN);   // written, not added to
            double bpttCost = Bptt.Gradient<double>(net, x, y, c.Time, truncation, bptt);
            int at = FirstDifference(full.Span, bptt);
            if (bpttCost != cost || at >= 0)
                labels.Add($"{truncation}: cost {bpttCost:R} vs full {cost:R}"
                    + (at >= 0 ? $"; ∂C/∂θ[{at}] ({net.Layout.SlotOf(at).Name}) {bptt[at]:R} vs full {full.Span[at]:R}" : ""));
        }
        return (labels.Count == 0).Label(string.Join("; ", labels));
    }

    /// <summary>The first index where the two differ (== on doubles: ±0 alike, NaN never equal), or −1.</summary>
    internal static int FirstDifference(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual)
    {
        for (int i = 0; i < expected.Length; i++)
            if (!(expected[i] == actual[i])) return i;
        return expected.Length == actual.Length ? -1 : expected.Length;
    }
}

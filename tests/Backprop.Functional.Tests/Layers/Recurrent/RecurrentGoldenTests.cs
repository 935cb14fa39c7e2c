using Xunit;
using static Backprop.Functional.Tests.Layers.Recurrent.RecurrentGoldens;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>RNN (tanh, ReLU), LSTM and GRU networks give PyTorch's output, cost and ∂C/∂θ on the cases of
/// Fixtures/*.json (scripts/recurrent-references.py: torch 1.13, float64, packed batches): sequence-to-one and
/// sequence-to-sequence heads, lengths that differ within a batch with random values at the padded steps, learned
/// initial states, two stacked cells.</summary>
/// <remarks>Tolerance: every element within 10⁻¹⁰ relative, |a − e| ≤ 10⁻¹⁰·max(|e|, 10⁻⁶·max|tensor|), the floor
/// judging exact zeros (dead ReLU units) and cancellations on their tensor's scale. The script found PyTorch's
/// modules and the cell equations run one sequence at a time within 1.5·10⁻¹³ of each other, so the margin is wide.
/// ∂C/∂x is in the fixtures but not compared: the network does not expose it yet.</remarks>
public class RecurrentGoldenTests
{
    private const double Tolerance = 1e-10;

    [Theory]
    [MemberData(nameof(RecurrentGoldens.Names), MemberType = typeof(RecurrentGoldens))]
    public void Network_matches_PyTorch(string name)
    {
        var f = Load(name);
        var spec = new NetworkSpec([.. f.Layers.Select(ToLayer)], Enum.Parse<LossKind>(f.Loss));
        var layout = spec.Layout;
        var byName = f.Parameters.ToDictionary(p => p.Name);
        Assert.Equal(f.Parameters.Select(p => p.Name), layout.Slots.ToArray().Select(s => s.Name));

        var theta = new double[layout.Count];
        foreach (var slot in layout.Slots)
        {
            var p = byName[slot.Name];
            int[] shape = slot.Rank == 1 ? [slot.Rows] : [slot.Rows, slot.Columns];
            Assert.True(shape.SequenceEqual(p.Shape), $"{slot.Name}: layout {slot.Shape}, fixture [{string.Join(" × ", p.Shape)}]");
            p.Value.CopyTo(slot.Of(theta.AsSpan()));
        }

        using var network = Network<double>.FromParameters(spec, theta);
        using var ws = network.CreateWorkspace(f.Batch, threads: 1, time: f.Time);
        ws.SetLengths(f.Lengths);
        double[] output = network.Forward(f.X.Value, ws).ToArray();
        var g = new double[layout.Count];
        double cost = network.ValueAndGradient(f.X.Value, f.Y.Value, ws, g);

        var failures = new List<string>();
        Assert.True(output.Length == f.Output.Value.Length,
            $"{name}: output has {output.Length} elements, PyTorch's [{string.Join(" × ", f.Output.Shape)}] {f.Output.Value.Length}");
        Compare("output", output, f.Output.Value, ValidOutputs(f), failures);
        Compare("cost", [cost], [f.Cost], null, failures);
        foreach (var slot in layout.Slots)
            Compare($"∂C/∂{slot.Name}", slot.Of(g.AsSpan()).ToArray(), byName[slot.Name].Gradient, null, failures);
        // ∂C/∂x (f.InputGradient) is compared once the network exposes it.
        Assert.True(failures.Count == 0, $"{name} ({f.Summary}):\n" + string.Join("\n", failures));
    }

    /// <summary>The layer a fixture entry describes.</summary>
    private static Layer ToLayer(LayerJson l) => l.Kind switch
    {
        "Rnn" => new Rnn(l.Inputs, l.Hidden, Enum.Parse<ActivationKind>(l.Activation!))
        { ReturnSequences = l.ReturnSequences, InitialState = Enum.Parse<InitialState>(l.InitialState!) },
        "Lstm" => new Lstm(l.Inputs, l.Hidden)
        { ReturnSequences = l.ReturnSequences, InitialState = Enum.Parse<InitialState>(l.InitialState!) },
        "Gru" => new Gru(l.Inputs, l.Hidden)
        { ReturnSequences = l.ReturnSequences, InitialState = Enum.Parse<InitialState>(l.InitialState!) },
        "Dense" => new Dense(l.Inputs, l.Outputs, Enum.Parse<ActivationKind>(l.Activation!)) { PerStep = l.PerStep },
        _ => throw new InvalidDataException($"unknown layer kind {l.Kind}"),
    };

    /// <summary>Which output elements are compared: all for [batch × outputs]; for [batch × time × outputs] those at
    /// steps t &lt; the sequence's length (PyTorch's padded steps hold 0, a placeholder).</summary>
    private static bool[]? ValidOutputs(Golden f)
    {
        if (f.Output.Shape.Length == 2) return null;
        int time = f.Output.Shape[1], width = f.Output.Shape[2];
        var valid = new bool[f.Output.Value.Length];
        for (int s = 0; s < f.Batch; s++)
            for (int t = 0; t < f.Lengths[s]; t++)
                valid.AsSpan((s * time + t) * width, width).Fill(true);
        return valid;
    }

    /// <summary>Adds a line to <paramref name="failures"/> for each element outside the tolerance (see the remarks).</summary>
    private static void Compare(string what, double[] actual, double[] expected, bool[]? mask, List<string> failures)
    {
        if (actual.Length != expected.Length)
        {
            failures.Add($"{what}: {actual.Length} elements, PyTorch {expected.Length}");
            return;
        }
        double scale = expected.Length == 0 ? 0 : expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
        {
            if (mask is not null && !mask[i]) continue;
            double e = expected[i], a = actual[i];
            if (!(Math.Abs(a - e) <= Tolerance * Math.Max(Math.Abs(e), 1e-6 * scale)))
                failures.Add($"{what}[{i}]: {a:R}, PyTorch {e:R} (relative error {Math.Abs(a - e) / Math.Abs(e):E2})");
        }
    }
}

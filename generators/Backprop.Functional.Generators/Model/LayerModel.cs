namespace Backprop.Functional.Generators.Model;

/// <summary>One layer attribute as read from source: its kind ("Dense", "Rnn", "Lstm", "Gru"; another kind's attribute
/// name without "Attribute", which only BPF007 reads), sizes as written, and the activation by name.</summary>
/// <param name="Kind">"Dense", "Rnn", "Lstm", "Gru", or the name of another layer attribute (sizes 0, activation null).</param>
/// <param name="Inputs">Width of aˡ⁻¹ (a recurrent layer's features per step) as written (validated later).</param>
/// <param name="Outputs">Width of aˡ (a recurrent layer's hidden size) as written (validated later).</param>
/// <param name="Activation">The library's activation struct name ("ReLU"), also its ActivationKind member (an Rnn's φ;
/// "Tanh" for an Lstm or Gru, unused); <see langword="null"/> when the typeof names something else.</param>
/// <param name="ActivationDisplay">What the user wrote, for messages.</param>
internal sealed record LayerModel(string Kind, int Inputs, int Outputs, string? Activation, string ActivationDisplay)
{
    /// <summary>Whether this is one of the recurrent kinds the generator emits (Rnn, Lstm, Gru).</summary>
    public bool IsRecurrent => Kind is "Rnn" or "Lstm" or "Gru";

    /// <summary>Whether the generator emits this kind at all.</summary>
    public bool IsKnown => Kind == "Dense" || IsRecurrent;

    /// <summary>Gate blocks of a recurrent layer's weights: 1 (Rnn), 4 (Lstm: i, f, g, o), 3 (Gru: r, z, n); 0 for Dense.</summary>
    public int Gates => Kind switch { "Rnn" => 1, "Lstm" => 4, "Gru" => 3, _ => 0 };

    /// <summary>Dense: Wˡ then bˡ, Outputs × Inputs + Outputs. Recurrent (PyTorch's layout): W_ih [G·H × I], W_hh [G·H × H],
    /// b_ih, b_hh [G·H].</summary>
    public int ParameterCount => IsRecurrent
        ? Gates * Outputs * Inputs + Gates * Outputs * Outputs + 2 * Gates * Outputs
        : Outputs * Inputs + Outputs;
}

namespace Backprop.Functional.Generators.Model;

/// <summary>One layer attribute as read from source: its kind ("Dense" for [Dense]; another kind's attribute name
/// without "Attribute", which only BPF007 reads), sizes as written, and the activation by name.</summary>
/// <param name="Kind">"Dense", or the name of another layer attribute (sizes 0, activation null).</param>
/// <param name="Inputs">Width of aˡ⁻¹ as written (validated later).</param>
/// <param name="Outputs">Width of aˡ as written (validated later).</param>
/// <param name="Activation">The library's activation struct name ("ReLU"), also its ActivationKind member;
/// <see langword="null"/> when the typeof names something else.</param>
/// <param name="ActivationDisplay">What the user wrote, for messages.</param>
internal sealed record LayerModel(string Kind, int Inputs, int Outputs, string? Activation, string ActivationDisplay)
{
    /// <summary>Wˡ then bˡ: Outputs × Inputs + Outputs.</summary>
    public int ParameterCount => Outputs * Inputs + Outputs;
}

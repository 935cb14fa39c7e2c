namespace Backprop.Functional.Generators.Model;

/// <summary>One [Dense] layer as read from source: sizes as written, and the activation by name.</summary>
/// <param name="Inputs">Width of aˡ⁻¹ as written (validated later).</param>
/// <param name="Outputs">Width of aˡ as written (validated later).</param>
/// <param name="Activation">The library's activation struct name ("ReLU"), also its ActivationKind member;
/// <see langword="null"/> when the typeof names something else.</param>
/// <param name="ActivationDisplay">What the user wrote, for messages.</param>
internal sealed record DenseModel(int Inputs, int Outputs, string? Activation, string ActivationDisplay)
{
    /// <summary>Wˡ then bˡ: Outputs × Inputs + Outputs.</summary>
    public int ParameterCount => Outputs * Inputs + Outputs;
}

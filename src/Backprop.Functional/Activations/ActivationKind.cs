namespace Backprop.Functional;

/// <summary>The activations a runtime <see cref="Network{T}"/> can use; each maps to one operator struct.</summary>
public enum ActivationKind
{
    /// <summary><see cref="Backprop.Functional.Identity"/>: σ(z) = z.</summary>
    Identity,
    /// <summary><see cref="Backprop.Functional.Sigmoid"/>: σ(z) = 1/(1+e⁻ᶻ).</summary>
    Sigmoid,
    /// <summary><see cref="Backprop.Functional.Tanh"/>.</summary>
    Tanh,
    /// <summary><see cref="Backprop.Functional.ReLU"/>: max(z, 0).</summary>
    ReLU,
    /// <summary><see cref="Backprop.Functional.LeakyReLU"/>: z for z &gt; 0, 0.01z otherwise.</summary>
    LeakyReLU,
    /// <summary><see cref="Backprop.Functional.Softplus"/>: ln(1+eᶻ).</summary>
    Softplus,
    /// <summary><see cref="Backprop.Functional.GELU"/> (tanh approximation).</summary>
    GELU,
    /// <summary><see cref="Backprop.Functional.Softmax"/> (row-wise; an output activation).</summary>
    Softmax,
}

namespace Backprop.Functional;

/// <summary>Which Fisher matrix a <see cref="Curvature.FisherVector{T}"/> product uses.</summary>
public enum FisherKind
{
    /// <summary>The true Fisher F = E_x E_{y∼p(y|x,θ)}[∇ℓ ∇ℓᵀ], the expectation over targets drawn from the model's own
    /// predictive distribution, taken exactly (not sampled): Jᵀ F_out J with the output distribution's Fisher F_out.</summary>
    True,

    /// <summary>The empirical Fisher F̂ = (1/m) Σₓ ∇ℓₓ ∇ℓₓᵀ with the data's own targets: not a curvature of the model's
    /// distribution, but what Adagrad/RMSProp-style accumulators and many "natural gradient" codes use.</summary>
    Empirical,
}

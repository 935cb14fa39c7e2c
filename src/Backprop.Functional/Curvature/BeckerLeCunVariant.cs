namespace Backprop.Functional;

/// <summary>Which second-order term the Becker–LeCun diagonal (<see cref="HessianDiagonal{T}.BeckerLeCun"/>) keeps when it
/// passes ∂²C/∂a² back through an activation: ∂²C/∂zᵢ² ≈ σ′(zᵢ)² ∂²C/∂aᵢ² + σ″(zᵢ) ∂C/∂aᵢ.</summary>
public enum BeckerLeCunVariant
{
    /// <summary>Keep σ″(zᵢ)·∂C/∂aᵢ (Becker &amp; LeCun 1989, eq. 2): exact for every parameter of the last layer, so for a
    /// one-layer network the whole diagonal of the Hessian; may be negative.</summary>
    SecondOrder,

    /// <summary>Drop σ″(zᵢ)·∂C/∂aᵢ (LeCun et al. 1990, "Optimal Brain Damage"; LeCun et al. 1998, "Efficient BackProp"
    /// §6): the diagonal of the Gauss–Newton matrix G of <see cref="Curvature.GaussNewtonVector{T}"/> for every parameter
    /// of the last layer; non-negative for a convex cost.</summary>
    GaussNewton,
}

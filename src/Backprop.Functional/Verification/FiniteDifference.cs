namespace Backprop.Functional;

/// <summary>Finite-difference stencils for ∂C/∂θᵢ.</summary>
public enum FiniteDifference
{
    /// <summary>Central difference (C(θ + h) − C(θ − h)) / 2h: 2 evaluations per parameter, error O(h²).</summary>
    Central,
    /// <summary>Five-point stencil (−C(θ+2h) + 8C(θ+h) − 8C(θ−h) + C(θ−2h)) / 12h: 4 evaluations, error O(h⁴),
    /// for tight checks in double.</summary>
    FivePoint,
}

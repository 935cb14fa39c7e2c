namespace Backprop.Functional;

/// <summary>Finite-difference stencils for ∂C/∂θᵢ.</summary>
public enum FiniteDifference
{
    /// <summary>Central difference (C(θ + h) − C(θ − h)) / 2h: 2 evaluations per parameter, error O(h²).</summary>
    Central,
    /// <summary>Five-point stencil (8[C(θ+h) − C(θ−h)] − [C(θ+2h) − C(θ−2h)]) / 12h: 4 evaluations, error O(h⁴),
    /// for tight checks in double. The two differences are taken first, so a flat direction gives exactly 0.</summary>
    FivePoint,
    /// <summary>Forward difference (C(θ + h) − C(θ)) / h: C(θ) once, then 1 evaluation per parameter, N + 1 for N
    /// parameters (the count Nielsen's notes give against backprop's one forward and one backward pass); error O(h),
    /// so the loosest of the three.</summary>
    Forward,
}

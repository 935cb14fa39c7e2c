namespace Backprop.Functional;

/// <summary>How a <see cref="ConjugateGradient{T}.Solve{TOp}"/> ended.</summary>
/// <param name="Iterations">Iterations run (products with B), not counting the one that forms the first residual.</param>
/// <param name="Objective">φ(d) = ½dᵀ(B + λI)d − bᵀd at the final iterate (from the recurred residual).</param>
/// <param name="Stop">Why it stopped.</param>
public readonly record struct ConjugateGradientResult(int Iterations, double Objective, ConjugateGradientStop Stop);

/// <summary>Why conjugate gradient stopped.</summary>
public enum ConjugateGradientStop
{
    /// <summary><see cref="ConjugateGradientOptions.MaxIterations"/> reached.</summary>
    MaxIterations,

    /// <summary>Martens' relative-progress rule (<see cref="ConjugateGradientOptions.ProgressTolerance"/>).</summary>
    Progress,

    /// <summary>The residual fell to <see cref="ConjugateGradientOptions.ResidualTolerance"/> (or to exactly 0).</summary>
    Residual,

    /// <summary>pᵀ(B + λI)p ≤ 0 or not finite: the system is not positive definite along p (or a product overflowed).
    /// The iterate before it is returned.</summary>
    NonPositiveCurvature,
}

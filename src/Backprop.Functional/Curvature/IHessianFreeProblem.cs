using System.Numerics;

namespace Backprop.Functional;

/// <summary>What one Hessian-free update needs of the objective on the current batch: the cost and gradient at θ
/// (after which <see cref="ILinearOperator{T}.Apply"/> is v ↦ Gv at that θ), and the cost at trial points. A network
/// on a batch is one (<see cref="HessianFree{T}.Update"/>); tests plug in explicit quadratics.</summary>
internal interface IHessianFreeProblem<T> : ILinearOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>C(θ) of the batch, ∇C(θ) into <paramref name="gradient"/> and, unless it is empty, the mean per-sample
    /// squared gradient (1/m) Σᵢ ∇ℓᵢ⊙∇ℓᵢ into <paramref name="squaredGradients"/>; curvature products at θ may follow.</summary>
    T ValueAndGradient(ReadOnlySpan<T> theta, Span<T> gradient, Span<T> squaredGradients);

    /// <summary>C at another point, on the rows the update's decisions are measured on (the batch, or its held-out rows;
    /// does not disturb the curvature products' state).</summary>
    T Cost(ReadOnlySpan<T> theta);

    /// <summary>C(θ) on the rows <see cref="Cost"/> uses, given <paramref name="batchCost"/>, the value
    /// <see cref="ValueAndGradient"/> returned at the same θ: returned as it is when those rows are the batch's.</summary>
    T Reference(ReadOnlySpan<T> theta, T batchCost);
}

using System.Numerics;

namespace Backprop.Functional;

/// <summary>A symmetric positive definite preconditioner M for <see cref="ConjugateGradient{T}"/>, given as its inverse's
/// action z = M⁻¹r (e.g. the Kronecker-factored blocks Hessian-free can precondition with,
/// <see cref="HessianFreePreconditioner.KFac"/>). M must stay fixed for the whole of one solve. Implement it on a (ref)
/// struct or a class and pass it by reference; the solver calls it through a generic constraint, so a struct is never
/// boxed. A diagonal M is better passed as a span to
/// <see cref="ConjugateGradient{T}.Solve{TOp}(ref TOp, ReadOnlySpan{T}, T, Span{T}, ReadOnlySpan{T}, int)"/>, whose
/// division is fused into the iteration's vector pass.</summary>
/// <typeparam name="T">The element type.</typeparam>
public interface IPreconditioner<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>z = M⁻¹ r.</summary>
    /// <param name="r">The residual, [n].</param>
    /// <param name="z">M⁻¹r, [n], written (never the same memory as <paramref name="r"/>).</param>
    void Apply(ReadOnlySpan<T> r, Span<T> z);
}

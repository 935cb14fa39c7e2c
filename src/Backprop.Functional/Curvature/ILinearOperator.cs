using System.Numerics;

namespace Backprop.Functional;

/// <summary>A symmetric linear map v ↦ Bv over the flat parameter vector, e.g. v ↦ Gv by
/// <see cref="Curvature.GaussNewtonVector{T}"/>: what <see cref="ConjugateGradient{T}"/> solves (B + λI)d = b with.
/// Implement it on a (ref) struct and pass it by reference; the solver calls it through a generic constraint, so it is
/// never boxed.</summary>
/// <typeparam name="T">The element type.</typeparam>
public interface ILinearOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>result = B v.</summary>
    /// <param name="v">The vector, [n].</param>
    /// <param name="result">B v, [n], written (never the same memory as <paramref name="v"/>).</param>
    void Apply(ReadOnlySpan<T> v, Span<T> result);
}
